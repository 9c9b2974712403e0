import { ROUTER_GATEWAY, isRouterInterface } from './model.js';

// The topology as SVG: networks are columns (a header with the network's subnets, then its ports,
// each port with its floating IPs under it), routers a row above them with a line down to every
// network they have an interface on and a dashed line to their gateway's external network. Every
// drawn object carries data-kind, data-id and data-status, for people inspecting the page and for
// the browser test. Names are tenant-chosen: they are only ever set as text, never as markup.

const SVG = 'http://www.w3.org/2000/svg';
const COLUMN = 230;
const GAP = 50;
const MARGIN = 20;
const ROUTER_W = 180;
const ROUTER_H = 44;
const PORT_W = 200;
const PORT_H = 40;
const FIP_H = 22;

/** The CSS class of a status colour (dashboard.css): ACTIVE green, BUILD amber, ERROR red, DOWN and the rest grey. */
export function statusClass(status) {
  switch (status) {
    case 'ACTIVE': return 'status-active';
    case 'BUILD': case 'PENDING_CREATE': case 'PENDING_UPDATE': return 'status-build';
    case 'ERROR': return 'status-error';
    case 'DOWN': return 'status-down';
    default: return 'status-other';
  }
}

function el(name, attrs = {}, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  parent?.appendChild(node);
  return node;
}

function text(parent, x, y, content, attrs = {}) {
  const max = attrs.max ?? 28;
  const shown = content.length > max ? `${content.slice(0, max - 1)}…` : content;
  const node = el('text', { x, y, ...attrs, max: undefined }, parent);
  node.textContent = shown;
  if (shown !== content) el('title', {}, node).textContent = content;
  return node;
}

function statusDot(parent, x, y, status, r = 6) {
  el('circle', { cx: x, cy: y, r, class: `status-dot ${statusClass(status)}`, 'data-status': status }, parent);
}

const label = (doc) => doc.name || doc.id.slice(0, 8);
const addresses = (port) => (port.fixed_ips ?? []).map((f) => f.ip_address).join(', ');

function portRole(port, routerNames) {
  if (isRouterInterface(port)) return `interface of ${routerNames.get(port.device_id) ?? 'a router'}`;
  if (port.device_owner === ROUTER_GATEWAY) return `gateway of ${routerNames.get(port.device_id) ?? 'a router'}`;
  return port.device_owner || 'unattached';
}

function drawPort(layer, entry, x, y, routerNames) {
  const port = entry.doc;
  const host = port['binding:host_id'] || '';
  const g = el('g', {
    class: 'node port', 'data-kind': 'port', 'data-id': port.id, 'data-status': port.status,
    'data-network-id': port.network_id, 'data-host': host, 'data-name': port.name,
  }, layer);
  el('rect', { x, y, width: PORT_W, height: PORT_H, rx: 5, class: 'box port-box' }, g);
  statusDot(g, x + 13, y + 13, port.status);
  text(g, x + 25, y + 17, `${label(port)} · ${portRole(port, routerNames)}`, { class: 'title', max: 25 });
  text(g, x + 10, y + 33, addresses(port) || 'no address', { class: 'detail', max: 24 });
  if (host) text(g, x + PORT_W - 8, y + 33, `@${host}`, { class: 'host-tag', 'text-anchor': 'end', 'data-host': host, max: 14 });
  let bottom = y + PORT_H;
  for (const fip of entry.floatingips) {
    bottom = drawFloatingIp(layer, fip, x + 24, bottom + 6, port.id, x + 12);
  }
  return bottom;
}

function drawFloatingIp(layer, fip, x, y, portId, stemX) {
  const g = el('g', {
    class: 'node floatingip', 'data-kind': 'floatingip', 'data-id': fip.id, 'data-status': fip.status,
    'data-port-id': portId ?? '', 'data-address': fip.floating_ip_address,
  }, layer);
  if (stemX !== undefined) el('path', { d: `M${stemX} ${y - 6} V${y + FIP_H / 2} H${x}`, class: 'link fip-link' }, g);
  el('rect', { x, y, width: PORT_W - 24, height: FIP_H, rx: 11, class: 'box fip-box' }, g);
  statusDot(g, x + 11, y + FIP_H / 2, fip.status, 5);
  text(g, x + 22, y + 15, `floating ${fip.floating_ip_address}`, { class: 'detail' });
  return y + FIP_H;
}

function drawNetwork(layer, net, x, y, routerNames) {
  const doc = net.doc;
  const g = el('g', {
    class: `node network${doc['router:external'] ? ' external' : ''}`, 'data-kind': 'network', 'data-id': doc.id,
    'data-status': doc.status, 'data-name': doc.name,
  }, layer);
  const headerH = 40 + 16 * net.subnets.length;
  el('rect', { x, y, width: COLUMN, height: headerH, rx: 6, class: 'box network-box' }, g);
  statusDot(g, x + 14, y + 16, doc.status, 7);
  const flags = [doc['router:external'] && 'external', doc.shared && 'shared'].filter(Boolean).join(', ');
  text(g, x + 28, y + 21, label(doc), { class: 'title', max: 20 });
  if (flags) text(g, x + COLUMN - 8, y + 21, flags, { class: 'detail', 'text-anchor': 'end' });
  net.subnets.forEach((subnet, i) => {
    text(g, x + 14, y + 40 + 16 * i, `${subnet.cidr}${subnet.name ? ` (${subnet.name})` : ''}`, {
      class: 'detail subnet', 'data-kind': 'subnet', 'data-id': subnet.id, 'data-cidr': subnet.cidr, 'data-network-id': doc.id,
    });
  });
  // The network's "wire": ports and unattached floating IPs hang off it.
  let bottom = y + headerH;
  const wireX = x + 8;
  for (const entry of net.ports) bottom = drawPort(layer, entry, x + 22, bottom + 10, routerNames);
  for (const fip of net.floatingips) bottom = drawFloatingIp(layer, fip, x + 22, bottom + 10, null);
  if (bottom > y + headerH) el('line', { x1: wireX, y1: y + headerH, x2: wireX, y2: bottom - 10, class: 'wire' }, g);
  return { headerTop: y, bottom };
}

/** Replace the picture in `svg` with `scene` (TopologyModel.scene). */
export function drawPicture(svg, scene) {
  svg.replaceChildren();
  const links = el('g', { class: 'links' }, svg);
  const layer = el('g', { class: 'nodes' }, svg);
  const routerNames = new Map(scene.routers.map((r) => [r.doc.id, label(r.doc)]));
  // Admins see where HA routers are active: a third line, so a taller box.
  const routerH = scene.routers.some((r) => r.doc.gateway_hosts?.length) ? ROUTER_H + 14 : ROUTER_H;
  const netTop = scene.routers.length ? MARGIN + routerH + 60 : MARGIN;
  const centreOf = new Map();
  let height = netTop;
  scene.networks.forEach((net, i) => {
    const x = MARGIN + i * (COLUMN + GAP);
    centreOf.set(net.doc.id, x + COLUMN / 2);
    height = Math.max(height, drawNetwork(layer, net, x, netTop, routerNames).bottom);
  });
  if (!scene.networks.length) text(layer, MARGIN, netTop + 20, 'Nothing to show in this project yet.', { class: 'detail', max: 80 });

  // Routers sit above the middle of the networks they join, pushed right so that none overlap.
  let nextFree = MARGIN;
  const placed = scene.routers.map((r) => {
    const joined = [...r.interfaceNetworkIds, r.gatewayNetworkId].filter((id) => centreOf.has(id)).map((id) => centreOf.get(id));
    const wanted = joined.length ? joined.reduce((a, b) => a + b, 0) / joined.length - ROUTER_W / 2 : nextFree;
    return { r, wanted };
  }).sort((a, b) => a.wanted - b.wanted);
  for (const { r, wanted } of placed) {
    const x = Math.max(wanted, nextFree);
    nextFree = x + ROUTER_W + 20;
    const cx = x + ROUTER_W / 2;
    const bottom = MARGIN + routerH;
    for (const id of r.interfaceNetworkIds) {
      el('line', { x1: cx, y1: bottom, x2: centreOf.get(id), y2: netTop, class: 'link', 'data-kind': 'router-interface', 'data-router-id': r.doc.id, 'data-network-id': id }, links);
    }
    if (r.gatewayNetworkId && centreOf.has(r.gatewayNetworkId)) {
      el('line', { x1: cx, y1: bottom, x2: centreOf.get(r.gatewayNetworkId), y2: netTop, class: 'link gateway', 'data-kind': 'router-gateway', 'data-router-id': r.doc.id, 'data-network-id': r.gatewayNetworkId }, links);
    }
    const hosts = r.doc.gateway_hosts ?? [];
    const g = el('g', {
      class: 'node router', 'data-kind': 'router', 'data-id': r.doc.id, 'data-status': r.doc.status, 'data-name': r.doc.name,
      ...(hosts.length ? { 'data-ha-active': hosts[0], 'data-ha-standby': hosts.slice(1).join(',') } : {}),
    }, layer);
    el('rect', { x, y: MARGIN, width: ROUTER_W, height: routerH, rx: 22, class: 'box router-box' }, g);
    statusDot(g, x + 20, MARGIN + routerH / 2, r.doc.status, 7);
    text(g, x + 34, MARGIN + 19, label(r.doc), { class: 'title', max: 18 });
    const gw = r.doc.external_gateway_info?.external_fixed_ips?.map((f) => f.ip_address).join(', ');
    text(g, x + 34, MARGIN + 35, gw ? `gateway ${gw}` : 'no gateway', { class: 'detail', max: 22 });
    // An HA router's gateway group (admins only): active host first, then the standbys.
    if (hosts.length) text(g, x + 34, MARGIN + 49, `HA on ${hosts[0]}${hosts.length > 1 ? `, standby ${hosts.slice(1).join(', ')}` : ''}`, { class: 'detail', max: 22 });
  }

  const width = Math.max(MARGIN + scene.networks.length * (COLUMN + GAP), nextFree, 400);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height + MARGIN));
  svg.setAttribute('viewBox', `0 0 ${width} ${height + MARGIN}`);
}
