// weft fip move FIP PORT: one PUT of the floating IP's port_id, timed; with --wait the controller
// answers only once the dataplane has applied it (X-Weft-Wait-Dataplane), so the time printed is
// API-to-dataplane.
import { DATAPLANE_HEADER, WAIT_HEADER } from '../../schemas/agent/channel.ts';
import { CliError } from '../args.ts';
import { findFloatingIp, findPort, type FloatingIp } from '../client.ts';
import { emit, optFlag, optInt, optString, type CommandContext } from '../context.ts';
import { formatDuration } from '../format.ts';

export async function fipMoveCommand(ctx: CommandContext): Promise<void> {
  const c = ctx.client();
  const [fip, port] = await Promise.all([findFloatingIp(c, ctx.args.FIP!), findPort(c, ctx.args.PORT!)]);
  const fixedIp = optString(ctx, 'fixed-ip');
  if (fixedIp && !port.fixed_ips.some((f) => f.ip_address === fixedIp)) {
    throw new CliError(`port ${port.name || port.id} has no address ${fixedIp} (it has ${port.fixed_ips.map((f) => f.ip_address).join(', ') || 'none'})`);
  }
  const wait = optFlag(ctx, 'wait');
  const timeout = optInt(ctx, 'timeout') ?? 30;
  const headers: Record<string, string> = wait ? { [WAIT_HEADER]: String(timeout) } : {};
  if (wait) ctx.progress(`moving ${fip.floating_ip_address} to port ${port.name || port.id} and waiting for the dataplane (up to ${timeout} s)`);
  const started = performance.now();
  const res = await c.request<{ floatingip: FloatingIp }>('PUT', `/v2.0/floatingips/${fip.id}`, {
    floatingip: { port_id: port.id, ...(fixedIp ? { fixed_ip_address: fixedIp } : {}) },
  }, headers);
  const elapsedMs = performance.now() - started;
  const dataplane = wait ? (res.headers.get(DATAPLANE_HEADER) ?? 'unknown') : null;
  const moved = res.body.floatingip;
  const result = {
    floatingip_id: fip.id,
    floating_ip_address: fip.floating_ip_address,
    from_port_id: fip.port_id,
    to_port_id: moved.port_id,
    to_port_name: port.name,
    fixed_ip_address: moved.fixed_ip_address,
    elapsed_ms: Math.round(elapsedMs * 10) / 10,
    dataplane,
  };
  emit(ctx, result, () => {
    const to = `port ${port.name ? `${port.name} (${port.id})` : port.id}, ${moved.fixed_ip_address}`;
    const how = wait ? (dataplane === 'applied' ? 'applied by the dataplane' : `the dataplane did not confirm within ${timeout} s (${dataplane})`) : 'accepted by the API (--wait waits for the dataplane)';
    return `moved ${fip.floating_ip_address} to ${to} in ${formatDuration(elapsedMs)}: ${how}`;
  });
  if (wait && dataplane !== 'applied') throw new CliError(`the dataplane did not apply the move within ${timeout} s`);
}
