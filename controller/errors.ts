// Neutron-compatible errors: clients (openstacksdk, the CLI, Terraform) parse
// {"NeutronError": {"type", "message", "detail"}} and branch on `type`.

export class NeutronError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly detail = '',
  ) {
    super(message);
  }

  toBody() {
    return { NeutronError: { type: this.type, message: this.message, detail: this.detail } };
  }
}

const kindNames: Record<string, string> = {
  network: 'Network',
  subnet: 'Subnet',
  subnetpool: 'SubnetPool',
  port: 'Port',
  router: 'Router',
  floatingip: 'FloatingIP',
  security_group: 'SecurityGroup',
  security_group_rule: 'SecurityGroupRule',
  port_forwarding: 'PortForwarding',
  firewall_group: 'FirewallGroup',
  firewall_policy: 'FirewallPolicy',
  firewall_rule: 'FirewallRule',
  agent: 'Agent',
  tag: 'Tag',
};

export const badRequest = (message: string) => new NeutronError(400, 'HTTPBadRequest', message);
export const invalidInput = (message: string) =>
  new NeutronError(400, 'InvalidInput', `Invalid input for operation: ${message}`);
export const conflict = (type: string, message: string) => new NeutronError(409, type, message);
export const forbidden = (action: string) =>
  new NeutronError(403, 'PolicyNotAuthorized', `(rule:${action}) is disallowed by policy.`);
export const unauthorized = () =>
  new NeutronError(401, 'HTTPUnauthorized', 'Authentication required: a valid X-Auth-Token is needed.');

export function notFound(kind: string, id: string): NeutronError {
  const name = kindNames[kind] ?? kind;
  const pretty: Record<string, string> = {
    security_group: 'Security group',
    security_group_rule: 'Security group rule',
    floatingip: 'Floating IP',
    subnetpool: 'Subnet pool',
    firewall_group: 'Firewall group',
    firewall_policy: 'Firewall policy',
    firewall_rule: 'Firewall rule',
  };
  return new NeutronError(404, `${name}NotFound`, `${pretty[kind] ?? name} ${id} could not be found.`);
}

export const httpNotFound = (message = 'The resource could not be found.') =>
  new NeutronError(404, 'HTTPNotFound', message);

export const overQuota = (resources: string[]) =>
  new NeutronError(409, 'OverQuota', `Quota exceeded for resources: ['${resources.join("', '")}'].`);

export const inUse = (type: string, message: string) => new NeutronError(409, type, message);

export const preconditionFailed = (current: number, expected: number) =>
  new NeutronError(
    412,
    'RevisionNumberConstraintFailed',
    `Constrained to ${expected}, but current revision is ${current}`,
  );
