import { RemovalPolicy, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { SUBNET_CONFIGURATION } from '../config/subnets';

export interface NetworkProps {
  /** The AZs, from config: never looked up at synth. */
  readonly availabilityZones: readonly string[];
  /** One per AZ keeps egress up when a zone fails. */
  readonly natGateways: number;
  readonly cidr: string;
  readonly logRetentionDays: number;
}

/**
 * The environment's VPC: public subnets for the NLB and NAT gateways, private subnets for nodes
 * and pods, across the configured availability zones, with flow logs.
 */
export class Network extends Construct {
  readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.cidr),
      availabilityZones: [...props.availabilityZones],
      natGateways: props.natGateways,
      subnetConfiguration: [...SUBNET_CONFIGURATION],
      restrictDefaultSecurityGroup: true,
    });

    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: logRetention(props.logRetentionDays),
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    // The AWS Load Balancer Controller picks subnets by these tags.
    for (const s of this.vpc.publicSubnets) Tags.of(s).add('kubernetes.io/role/elb', '1');
    for (const s of this.vpc.privateSubnets) Tags.of(s).add('kubernetes.io/role/internal-elb', '1');
  }
}

/** CloudWatch Logs accepts only certain retention periods: the configured days, rounded up to the next one. */
export function logRetention(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays)
    .filter((v): v is number => typeof v === 'number')
    .filter((v) => v > 0)
    .sort((a, b) => a - b);
  const pick = allowed.find((v) => v >= days) ?? allowed[allowed.length - 1];
  return pick;
}
