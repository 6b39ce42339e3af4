"""Prints cdk.out/validation-report.json grouped by rule, with construct paths (stage names folded)."""
import collections, json, re, sys
report = json.load(open(sys.argv[1] if len(sys.argv) > 1 else 'cdk.out/validation-report.json'))
by_rule = collections.defaultdict(set)
for plugin in report['pluginReports']:
    for v in plugin.get('violations', []):
        for c in v.get('violatingConstructs', []):
            path = re.sub(r'(preprod|prod)-[a-z]+-[a-z]+-\d', '<STAGE>', c['constructPath'])
            by_rule[f"{plugin['pluginName']}: {v['ruleName']}"].add(path)
for rule, paths in sorted(by_rule.items()):
    print(rule)
    for p in sorted(paths):
        print('    ', p)
print(f'{sum(len(p) for p in by_rule.values())} findings (folded)')
