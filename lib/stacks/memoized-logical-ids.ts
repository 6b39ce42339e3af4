import { type CfnElement, Stack } from 'aws-cdk-lib';

/**
 * A Stack that allocates each element's logical ID once. CDK resolves `CfnElement.logicalId` as an
 * uncached token: every `Ref`, `Fn::GetAtt` and template key recomputes it from the element's path
 * (an MD5 of the path and a character filter, aws-cdk-lib core/lib/private/uniqueid.js), and a
 * stage is resolved several times per synth (cross-stack references, the template, the tree,
 * cdk-nag). A profile of the 16-region synth put about a fifth of each stage's synthesis there.
 * The allocation depends only on the path, which never changes once the construct exists, so it
 * is kept per element; `renameLogicalId` and `overrideLogicalId` still apply on top, as before.
 */
export class MemoizedLogicalIdStack extends Stack {
  private readonly allocated = new WeakMap<CfnElement, string>();

  protected override allocateLogicalId(element: CfnElement): string {
    let id = this.allocated.get(element);
    if (id === undefined) {
      id = super.allocateLogicalId(element);
      this.allocated.set(element, id);
    }
    return id;
  }
}
