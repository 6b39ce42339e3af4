import * as ec2 from 'aws-cdk-lib/aws-ec2';

/**
 * The subnets of every zone, in the order the VPC allocates them. The VPC (lib/constructs/network.ts)
 * is built from them and the config validator checks that `vpcCidr` holds them for every
 * configured zone (lib/config/limits.ts), with the same allocator, so a CIDR the validator accepts
 * is one the VPC can be built from. They live in lib/config because the validator, the lowest
 * layer, needs them (test/toolchain/layout.test.ts).
 */
export const SUBNET_CONFIGURATION: readonly ec2.SubnetConfiguration[] = [
  { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 22 },
  // /19 per zone: VPC CNI gives every pod a VPC address.
  { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 19 },
];
