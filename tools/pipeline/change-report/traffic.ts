/**
 * What replacing or removing a resource means for the traffic the environment serves. Whether a
 * change replaces a resource comes from AWS's own resource specification (the CDK's
 * `@aws-cdk/cloudformation-diff` reads each property's update behaviour from it); what that does
 * to running traffic is this project's knowledge of its own stack, so it is written here, one line
 * per resource type the stack holds. Types not listed are still reported as replaced or removed;
 * they are only not called a service interruption.
 *
 * CloudFormation replaces a resource by creating the new one first and deleting the old one in
 * its cleanup phase (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html).
 */
export const TRAFFIC_IMPACT: Readonly<Record<string, string>> = {
  'AWS::EC2::VPC':
    'a new VPC: its subnets, NAT gateways, the cluster and its nodes are all created again inside it; the service is down until they are, and its load balancer gets a new DNS name',
  'AWS::EC2::Subnet':
    'nodes and load-balancer interfaces in the old subnet are deleted with it: pods on those nodes stop, and the address of the load balancer in that zone changes',
  'AWS::EC2::NatGateway':
    "outbound traffic from that zone's private subnets stops until the new gateway routes (image pulls, AWS APIs); the public egress address changes, so allow-lists elsewhere need the new one",
  'AWS::EC2::EIP':
    'the public address changes: anything that allow-lists the old one (partners, firewalls) stops accepting this environment',
  'AWS::EC2::InternetGateway':
    'the VPC loses its route to the internet until the new gateway is attached: the load balancer is unreachable meanwhile',
  'AWS::EC2::VPCGatewayAttachment':
    'the internet gateway is detached and attached again: the load balancer is unreachable meanwhile',
  'AWS::EC2::RouteTable':
    'the subnets switch to a new route table: connections can drop while the associations move',
  'AWS::EC2::SecurityGroup':
    'network interfaces move to a new security group: connections through the old one can drop',
  'AWS::EKS::Cluster':
    "a new EKS cluster: a new API endpoint, every workload created again on new nodes, and the Service's load balancer created again with a new DNS name (ServiceUrl changes); the old cluster and everything on it is deleted afterwards",
  'AWS::EKS::Nodegroup':
    'a new node group is created, then the old one is deleted: EKS scales the old group to zero and drains its nodes, forcing them off after 5 minutes whatever the PodDisruptionBudget says (https://docs.aws.amazon.com/eks/latest/userguide/delete-managed-node-group.html); capacity is there but pods restart all at once',
  'AWS::EKS::Addon':
    'the add-on is deleted and installed again: while it is away, what it does stops (vpc-cni: new pods get no address; metrics-server: the HPA cannot scale)',
  'Custom::AWSCDK-EKS-KubernetesResource':
    "these Kubernetes objects are deleted and applied again: the Deployment's pods restart together, and a Service of type LoadBalancer gets a new load balancer and DNS name",
  'Custom::AWSCDK-EKS-HelmChart':
    'the chart is uninstalled and installed again (the AWS Load Balancer Controller: load balancers are not reconciled meanwhile)',
};

/** The resource types whose replacement or removal interrupts the service. */
export function trafficImpact(resourceType: string | undefined): string | undefined {
  return resourceType === undefined ? undefined : TRAFFIC_IMPACT[resourceType];
}

/**
 * What a stack's status means for the deployment about to run. CodePipeline's CloudFormation
 * action in CREATE_UPDATE mode (what CDK Pipelines uses without change sets) never deletes a
 * failed stack (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CloudFormation.html),
 * and CloudFormation updates only stacks in a stable state
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-describing-stacks.html).
 */
export function statusWarning(status: string): string | undefined {
  if (status === 'ROLLBACK_COMPLETE' || status === 'ROLLBACK_FAILED' || status === 'CREATE_FAILED')
    return `the stack is ${status} (its first creation failed and it never served): CloudFormation cannot update it and the pipeline's deploy will fail until it is deleted`;
  if (status === 'UPDATE_ROLLBACK_FAILED')
    return 'the stack is UPDATE_ROLLBACK_FAILED: the deploy will fail until the rollback is continued (ContinueUpdateRollback) or the stack recovered';
  if (status === 'DELETE_FAILED')
    return 'the stack is DELETE_FAILED: the deploy will fail until it is deleted or recovered';
  if (status.endsWith('_IN_PROGRESS'))
    return `an operation is under way on the stack (${status}): the template read may not be the one that will be in place when the deploy starts`;
  return undefined;
}
