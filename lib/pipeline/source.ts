import * as codecommit from 'aws-cdk-lib/aws-codecommit';
import * as pipelines from 'aws-cdk-lib/pipelines';
import type { Construct } from 'constructs';
import type { SourceConfig } from '../config';

/**
 * The pipeline's source action: a CodeCommit repository (created by the stack, or an existing
 * one by name), or a CodeConnections connection to GitHub, GitLab or Bitbucket. Nothing here
 * depends on app/, so a change to the service alone leaves the pipeline's template unchanged.
 */
export function pipelineSource(
  scope: Construct,
  source: SourceConfig,
  serviceName: string,
): pipelines.CodePipelineSource {
  if (source.kind === 'connection') {
    // https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.pipelines.CodePipelineSource.html#static-connectionrepostring-branch-props
    return pipelines.CodePipelineSource.connection(source.repository, source.branch, {
      connectionArn: source.connectionArn,
    });
  }
  const repository = source.create
    ? new codecommit.Repository(scope, 'Source', {
        repositoryName: source.repositoryName,
        description: `${serviceName} service and its delivery pipeline`,
      })
    : codecommit.Repository.fromRepositoryName(scope, 'Source', source.repositoryName);
  return pipelines.CodePipelineSource.codeCommit(repository, source.branch);
}
