/**
 * Redaction by value and by pattern, and the streaming redactor: a secret split across any chunk
 * boundary is still caught (every split position, every pair of split positions on a shorter
 * text, 1-character chunks, random chunkings), while ordinary text is released at once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  MIN_SECRET_LENGTH,
  REDACTED,
  Redactor,
  type StreamRedactor,
} from '../../src/observability/redact.js';

const API_KEY = 'sk-ant-api03-Zq9_xY-1234567890abcdefKEY';
const BOT_TOKEN = 'bottoken-7f3a9c2e1d';
/**
 * Begins with BOT_TOKEN's last character, so in "<BOT_TOKEN>gh…" the held tail ("dgh…", maybe
 * OTHER) starts inside a BOT_TOKEN that is already complete: the cut must not split it.
 */
const OTHER = 'dghsecret-4455667788';

const GH_TOKEN = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';
const GLPAT = 'glpat-ABCDEFGHIJ_klmnopqrst';
const LF_KEY = 'sk-lf-0123456789abcdef';
const YA29 = 'ya29.a0AfH6SMBx-long.access_token';
const AWS = 'AKIAIOSFODNN7EXAMPLE';
const SLACK = 'xoxb-1234567890-abcdefghij';
const BEARER_TOKEN = 'eyJhbGciOi_JIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_nature';
const URL_PASSWORD = 'p4ss:w0rd-xyz';
const PEM_BODY = 'MIIEowIBAAKCAQEA7bq3\nq1w2e3r4t5y6u7i8o9p0\n';
const PEM = `-----BEGIN RSA PRIVATE KEY-----\n${PEM_BODY}-----END RSA PRIVATE KEY-----`;

/** Text holding each kind of secret, between ordinary words and punctuation. */
const TEXT = [
  `Key=${API_KEY}; bot ${BOT_TOKEN}ghsecret-44 then ${OTHER}.`,
  `git ${GH_TOKEN}, lab:${GLPAT} lf ${LF_KEY}`,
  `gcp ${YA29} aws ${AWS} slack ${SLACK}`,
  `Authorization: Bearer  ${BEARER_TOKEN}`,
  `clone https://deploy:${URL_PASSWORD}@git.example.com/org/repo.git ok`,
  PEM,
  'The end.',
].join('\n');

/** Parts of secrets that must never appear in output (long enough to be a real leak). */
const FORBIDDEN = [
  API_KEY.slice(7),
  BOT_TOKEN,
  OTHER,
  GH_TOKEN.slice(4),
  GLPAT.slice(6),
  LF_KEY.slice(6),
  YA29.slice(5),
  AWS.slice(4),
  SLACK.slice(5),
  BEARER_TOKEN,
  URL_PASSWORD,
  'MIIEowIBAAKCAQEA7bq3',
  'q1w2e3r4t5y6u7i8o9p0',
];

const redactor = new Redactor([API_KEY, BOT_TOKEN, OTHER, 'short', undefined, null, '']);

function run(s: StreamRedactor, chunks: string[]): { out: string; outputs: string[] } {
  const outputs = chunks.map((c) => s.push(c));
  outputs.push(s.end());
  return { out: outputs.join(''), outputs };
}

function streamed(text: string, chunks: string[], r = redactor): string {
  assert.equal(chunks.join(''), text);
  return run(r.stream(), chunks).out;
}

function assertClean(out: string, what: string): void {
  for (const f of FORBIDDEN)
    assert.ok(!out.includes(f), `${what}: leaked ${JSON.stringify(f)} in ${JSON.stringify(out)}`);
}

describe('Redactor', () => {
  test('by value: every known secret, wherever it appears; short values are ignored', () => {
    const out = redactor.redact(`a ${API_KEY}b${BOT_TOKEN}c short d`);
    assert.equal(out, `a ${REDACTED}b${REDACTED}c short d`);
    assert.deepEqual(
      redactor.secretValues,
      [OTHER, API_KEY, BOT_TOKEN].sort((a, b) => b.length - a.length),
    );
    assert.ok(redactor.secretValues.every((v) => v.length >= MIN_SECRET_LENGTH));
  });

  test('by value: regular-expression characters in a secret are literal', () => {
    const r = new Redactor(['a.b*c+d?(e)[f]$^|\\']);
    assert.equal(r.redact('x a.b*c+d?(e)[f]$^|\\ y'), `x ${REDACTED} y`);
    assert.equal(r.redact('aXbbbcd'), 'aXbbbcd');
  });

  test('a secret that contains another is replaced whole', () => {
    const r = new Redactor(['secret-abc', 'my-secret-abc-long']);
    assert.equal(r.redact('[my-secret-abc-long]'), `[${REDACTED}]`);
  });

  test('by pattern: token shapes we were never told about', () => {
    const r = new Redactor();
    for (const token of [
      API_KEY,
      GH_TOKEN,
      GLPAT,
      LF_KEY,
      'pk-lf-0123456789ab',
      YA29,
      AWS,
      SLACK,
      'github_pat_11ABCDEFG_0123456789abcdefghij',
      'gho_abcdefghijklmnopqrstuvwxyz',
    ])
      assert.equal(r.redact(`<${token}>`), `<${REDACTED}>`, token);
    assert.equal(r.redact(`x\n${PEM}\ny`), `x\n${REDACTED}\ny`);
  });

  test('by pattern: the readable prefix stays', () => {
    const r = new Redactor();
    assert.equal(
      r.redact(`Authorization: Bearer ${BEARER_TOKEN}`),
      `Authorization: Bearer ${REDACTED}`,
    );
    assert.equal(
      r.redact('Authorization: Basic dXNlcjpwYXNzd29yZA=='),
      `Authorization: Basic ${REDACTED}`,
    );
    assert.equal(
      r.redact(`https://deploy:${URL_PASSWORD}@git.example.com/org/repo.git`),
      `https://${REDACTED}@git.example.com/org/repo.git`,
    );
  });

  test('ordinary text is left alone', () => {
    const r = new Redactor([BOT_TOKEN]);
    const text =
      'Ask for a token at https://example.com/path?x=1 then run `git push`. Bearer tokens expire; sk-ant- is a prefix.';
    assert.equal(r.redact(text), text);
  });

  test('redactDeep: every string in a JSON-like value; the input is not changed', () => {
    const input = { a: API_KEY, b: [1, `x ${BOT_TOKEN}`, { c: GH_TOKEN, d: null, e: true }], f: 3 };
    const copy = structuredClone(input);
    assert.deepEqual(redactor.redactDeep(input), {
      a: REDACTED,
      b: [1, `x ${REDACTED}`, { c: REDACTED, d: null, e: true }],
      f: 3,
    });
    assert.deepEqual(input, copy);
  });

  test('with(): a redactor that also knows later secrets', () => {
    const r = redactor.with('minted-token-0011223344', undefined);
    assert.equal(r.redact('minted-token-0011223344'), REDACTED);
    assert.equal(r.redact(API_KEY), REDACTED);
    assert.equal(redactor.redact('minted-token-0011223344'), 'minted-token-0011223344');
  });
});

describe('StreamRedactor: a secret split anywhere is caught', () => {
  test('the reference: TEXT redacted whole has no secret left', () => {
    assertClean(redactor.redact(TEXT), 'whole');
  });

  test('two chunks, split at every position', () => {
    const whole = redactor.redact(TEXT);
    for (let i = 0; i <= TEXT.length; i++) {
      const out = streamed(TEXT, [TEXT.slice(0, i), TEXT.slice(i)]);
      assertClean(out, `split at ${i}`);
      assert.equal(out, whole, `split at ${i}`);
    }
  });

  test('three chunks, every pair of split positions (each secret on its own)', () => {
    const pieces = [
      `a ${API_KEY} b`,
      `x ${BOT_TOKEN}ghsecret-4455667788.`,
      `x ${OTHER}.`,
      `: Bearer ${BEARER_TOKEN} `,
      `see https://u:${URL_PASSWORD}@h.test/x`,
      `-${PEM}-`,
      `[${GH_TOKEN}]`,
    ];
    for (const text of pieces) {
      const whole = redactor.redact(text);
      assertClean(whole, 'whole');
      for (let i = 0; i <= text.length; i++)
        for (let j = i; j <= text.length; j++) {
          const out = streamed(text, [text.slice(0, i), text.slice(i, j), text.slice(j)]);
          assert.equal(out, whole, `${JSON.stringify(text)} split at ${i} and ${j}`);
        }
    }
  });

  test('one character at a time', () => {
    const out = streamed(TEXT, [...TEXT]);
    assertClean(out, '1-char chunks');
    assert.equal(out, redactor.redact(TEXT));
  });

  test('random chunkings', () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const whole = redactor.redact(TEXT);
    for (let round = 0; round < 300; round++) {
      const chunks: string[] = [];
      for (let i = 0; i < TEXT.length;) {
        const n = 1 + rand(12);
        chunks.push(TEXT.slice(i, i + n));
        i += n;
      }
      assert.equal(streamed(TEXT, chunks), whole, `round ${round}`);
    }
  });

  test('a secret across empty chunks', () => {
    const s = redactor.stream();
    const out = [
      s.push(''),
      s.push('key: sk-ant-api03'),
      s.push(''),
      s.push(API_KEY.slice(12)),
      s.push(''),
      s.push(' done'),
      s.end(),
    ];
    assert.equal(out.join(''), `key: ${REDACTED} done`);
  });
});

describe('StreamRedactor: holds back as little as possible', () => {
  test('ordinary text is released at once', () => {
    const s = redactor.stream();
    for (const chunk of [
      'Hello, world. ',
      'The answer is 42.\n',
      'Done! ',
      '(ok) ',
      'https://example.com/a/b ',
    ])
      assert.equal(s.push(chunk), chunk);
    assert.equal(s.end(), '');
  });

  test('a tail that may begin a secret is held, and only that tail', () => {
    const s = redactor.stream();
    // "bottok" begins BOT_TOKEN: held; the rest goes.
    assert.equal(s.push('token is bottok'), 'token is ');
    // It turns out not to be the token: released whole with what follows.
    assert.equal(s.push('en? no. '), 'bottoken? no. ');
    assert.equal(s.end(), '');
  });

  test('a complete marker keeps its token held until the token ends', () => {
    const s = redactor.stream();
    assert.equal(s.push('use sk-ant-abc'), 'use ');
    assert.equal(s.push('defghijkl'), '');
    assert.equal(s.push(' now'), `${REDACTED} now`);
  });

  test('a secret-like tail that never completes is released by end()', () => {
    const s = redactor.stream();
    assert.equal(s.push('ends with Bear'), 'ends with ');
    assert.equal(s.end(), 'Bear');
  });

  test('at most the held tail waits: one character for a word ending like a marker', () => {
    const s = redactor.stream();
    // "s" may begin "sk-ant-": at most that one character waits.
    assert.equal(s.push('yes'), 'ye');
    assert.equal(s.push(' ok.'), 's ok.');
  });

  test('each stream is independent', () => {
    const a = redactor.stream();
    const b = redactor.stream();
    assert.equal(a.push('x bottok'), 'x ');
    assert.equal(b.push('y '), 'y ');
    assert.equal(a.push('en-7f3a9c2e1d!'), `${REDACTED}!`);
  });
});
