import fc from 'fast-check';

// fast-check arbitraries for fuzzing the Neutron API: junk JSON, valid-looking but wrong
// values, request bodies built from per-resource attribute tables, and query strings.

/** Strings that tend to break things: unicode, control characters, huge, injection-ish. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', ' ', '\u0000', '\n', '\ud800', '🚀🚀', 'ünïcødé', '../../etc/passwd', "'; DROP TABLE resources;--",
    '%00', '%zz', 'null', 'None', 'true', 'True', '1', '0', '-1', '1e309', 'NaN', '__proto__', 'constructor', 'toString',
    'a,b', ',', '*', '0.0.0.0', '255.255.255.255', '::', 'fe80::1%eth0', '10.0.0.0/24', '10.0.0.0/33', '1.2.3', 'fa:16:3e:00:00:01',
    'FF:FF:FF:FF:FF:FF', '01:00:5e:00:00:01', '00000000-0000-0000-0000-000000000000'),
  fc.integer({ min: 256, max: 70_000 }).map((n) => 'x'.repeat(n)),
);

/** Any JSON value, with nasty strings, deep nesting and odd numbers. */
export const junk: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.constantFrom(0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, 4095, 4096, 65535, 65536, 16777216, 4294967296),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    nastyString,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(nastyString, fc.constantFrom('id', 'name', 'network_id', '__proto__')), tie('value'), { maxKeys: 4 }),
  ),
})).value;

export const uuid: fc.Arbitrary<string> = fc.uuid();

/** encodeURIComponent that survives lone surrogates (they become U+FFFD, as a browser would send). */
export function encode(s: string): string {
  return encodeURIComponent(s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));
}
export const booleanish: fc.Arbitrary<unknown> = fc.constantFrom(true, false, 'true', 'False', '1', 0, 1, 'yes', null);
export const ipv4: fc.Arbitrary<string> = fc.ipV4();
export const ipv6: fc.Arbitrary<string> = fc.ipV6();
export const ip: fc.Arbitrary<string> = fc.oneof(ipv4, ipv6, fc.constantFrom('10.0.0.1', '10.0.0.0', '10.0.0.255', '10.0.1.5', '192.168.0.1', '::1'));
export const cidr: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(ipv4, fc.integer({ min: 0, max: 34 })).map(([a, n]) => `${a}/${n}`),
  fc.tuple(ipv6, fc.integer({ min: 0, max: 130 })).map(([a, n]) => `${a}/${n}`),
  fc.constantFrom('10.0.0.0/24', '10.0.0.0/8', '10.0.0.0/30', '10.0.0.0/31', '10.0.0.0/32', '0.0.0.0/0', '::/0', 'fd00::/64', '10.0.0.1/24'),
);
export const mac: fc.Arbitrary<string> = fc.oneof(
  fc.mixedCase(fc.constantFrom('fa:16:3e:00:00:01', 'fa-16-3e-aa-bb-cc', '00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:fb')),
  fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }).map((b) => b.map((x) => x.toString(16).padStart(2, '0')).join(':')),
);
export const port: fc.Arbitrary<unknown> = fc.oneof(fc.integer({ min: -2, max: 65537 }), fc.constantFrom(0, 1, 22, 65535, '80', null));

/** A value for an attribute: usually a plausible one, sometimes junk of any type. */
export function attr(plausible: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 5, arbitrary: plausible }, { weight: 1, arbitrary: junk });
}

export type Fields = Record<string, fc.Arbitrary<unknown>>;

/** A body object: a few of the fields (usually plausible values), sometimes with unknown attributes added. */
export function bodyOf(fields: Fields): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(fields);
  const chosen = keys.length ? fc.uniqueArray(fc.constantFrom(...keys), { maxLength: Math.min(4, keys.length) }) : fc.constant([] as string[]);
  const some = chosen.chain((ks) => fc.record(Object.fromEntries(ks.map((k) => [k, attr(fields[k])])) as Record<string, fc.Arbitrary<unknown>>));
  return fc.tuple(
    some,
    // Unknown attributes in about one body of six.
    fc.oneof(
      { weight: 5, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.dictionary(fc.oneof(nastyString, fc.constantFrom('colour', 'id', 'revision_number', 'status', 'created_at')), junk, { minKeys: 1, maxKeys: 2 }) },
    ),
  ).map(([body, extra]) => (extra ? { ...body, ...extra } : body));
}

/** A request body for POST/PUT on a resource: well-wrapped, mis-wrapped, bulk, or junk. */
export function wrappedBody(singular: string, collection: string | undefined, fields: Fields): fc.Arbitrary<unknown> {
  const one = bodyOf(fields);
  const options: Array<fc.WeightedArbitrary<unknown>> = [
    { weight: 6, arbitrary: one.map((b) => ({ [singular]: b })) },
    { weight: 1, arbitrary: junk },
    { weight: 1, arbitrary: fc.tuple(one, junk).map(([b, j]) => ({ [singular]: b, [`${singular}x`]: j })) },
    { weight: 1, arbitrary: junk.map((j) => ({ [singular]: j })) },
  ];
  if (collection) {
    options.push({ weight: 2, arbitrary: fc.array(fc.oneof(one, junk), { maxLength: 3 }).map((items) => ({ [collection]: items })) });
  }
  return fc.oneof(...options);
}

/** Keys for query strings: the resource's attributes, the reserved paging/filter keys, junk. */
export const RESERVED_QUERY = ['fields', 'sort_key', 'sort_dir', 'limit', 'marker', 'page_reverse', 'tags', 'tags-any', 'not-tags', 'not-tags-any'];

export function queryString(attributes: readonly string[], ids: readonly string[] = []): fc.Arbitrary<string> {
  const key = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...attributes, ...RESERVED_QUERY) },
    { weight: 1, arbitrary: nastyString },
    { weight: 1, arbitrary: fc.constantFrom('id[]', 'a[b]', '', '=', '&', 'fields[]', 'limit[0]') },
  );
  const value = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('asc', 'desc', 'true', 'false', 'True', '0', '1', '2', '-1', '1000000000000', 'None', '', 'id', 'name', ...attributes) },
    { weight: 1, arbitrary: ids.length ? fc.constantFrom(...ids) : fc.constant('x') },
    { weight: 2, arbitrary: nastyString },
    { weight: 1, arbitrary: fc.integer().map(String) },
  );
  const pair = fc.tuple(key, value, fc.boolean()).map(([k, v, raw]) => (raw && /^[\x21-\x7e]*$/.test(k + v) ? `${k}=${v}` : `${encode(k)}=${encode(v)}`));
  const fragment = fc.constantFrom('&', '&&', '=', '==x', '%', '%zz', '?', 'fields', 'limit=1&limit=2', 'sort_key=id&sort_dir=asc&sort_dir=desc', 'a=%E2%82', '+', '#frag');
  return fc.array(fc.oneof({ weight: 5, arbitrary: pair }, { weight: 1, arbitrary: fragment }), { maxLength: 5 }).map((parts) => parts.join('&'));
}

/** A path segment standing for an id: a real one, a random uuid, or junk (URL-encoded). */
export function idSegment(ids: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 2, arbitrary: ids.length ? fc.constantFrom(...ids) : uuid },
    { weight: 2, arbitrary: uuid },
    { weight: 1, arbitrary: nastyString.filter((s) => s.length > 0 && s.length < 400).map(encode) },
  );
}

/** A raw, usually broken, JSON text. */
export const rawText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', '{', '[', '{"network": }', 'null', '"str"', '{"a":1}{"b":2}', '{"network": {"name": "\\ud800"}}', '\u0000', '{"__proto__": {"admin": true}}'),
  fc.string(),
  junk.map((j) => JSON.stringify(j) ?? 'undefined').map((s) => s.slice(0, Math.max(0, s.length - 1))),
);

/** If-Match header values, good and bad. */
export const ifMatch: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('revision_number=1', 'revision_number=2', 'revision_number=999', '*', 'revision_number=x', 'garbage', 'revision_number=1,revision_number=2', ''),
);
