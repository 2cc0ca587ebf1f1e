// Which address a request comes from, for rate limits and the log. Unset TRUST_PROXY: the TCP
// peer, since any client can write X-Forwarded-For. A hop count N: the address N hops back in
// X-Forwarded-For, as Koa's app.proxy + maxIpsCount compute it (each trusted proxy appends the
// address it saw). A list of CIDRs: starting from the peer, every address that is a trusted proxy
// is skipped and the first one that is not is the client (an untrusted peer's header is ignored).
import { BlockList, isIP } from 'node:net';

export type TrustProxy = { kind: 'none' } | { kind: 'hops'; hops: number } | { kind: 'cidrs'; list: BlockList; text: string };

export const unmapped = (address: string): string => {
  const trimmed = address.trim();
  // ::ffff:1.2.3.4 is an IPv4 client on a dual-stack socket: count it as IPv4.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(trimmed);
  return mapped?.[1] ?? trimmed;
};

/** Parses TRUST_PROXY; returns an error message for a bad value. */
export function parseTrustProxy(value: string | undefined): TrustProxy | string {
  if (value === undefined || value.trim() === '') return { kind: 'none' };
  if (/^\d{1,2}$/.test(value.trim())) {
    const hops = Number(value.trim());
    return hops === 0 ? { kind: 'none' } : { kind: 'hops', hops };
  }
  const list = new BlockList();
  for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [address = '', bits, extra] = part.split('/');
    const family = isIP(address);
    if (family === 0 || extra !== undefined) return `must be a hop count (e.g. 1) or a comma-separated list of addresses or CIDRs (e.g. 10.0.0.0/8,fd00::/8); "${part}" is neither`;
    const max = family === 4 ? 32 : 128;
    const prefix = bits === undefined ? max : Number(bits);
    if (!/^\d{1,3}$/.test(bits ?? String(max)) || prefix > max) return `has a bad prefix length in "${part}"`;
    list.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return { kind: 'cidrs', list, text: value };
}

const trusted = (list: BlockList, address: string): boolean => {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
};

/** The client's address under the CIDR rule: the first hop, from the peer back, that is not a trusted proxy. */
export function clientAddressBehind(list: BlockList, peer: string, forwardedFor: string | undefined): string {
  const chain = [...(forwardedFor ?? '').split(',').map(unmapped).filter(Boolean)];
  let current = unmapped(peer);
  while (trusted(list, current) && chain.length > 0) current = chain.pop() ?? current;
  return current;
}

/**
 * The address as rate limits count it: an IPv4 address as it is; an IPv6 address by its /64,
 * the smallest network a provider hands one customer, so one host cannot take 2^64 budgets.
 */
export function limitAddressOf(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const [head = '', tail = ''] = ip.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = ip.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
