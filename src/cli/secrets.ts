/**
 * Secrets the CLI has read (passwords, API keys, tokens, S3 keys, the password of a URL), and the
 * redaction every line of its output goes through: each known secret, in its raw, URL-encoded and
 * JSON-escaped forms, becomes `***`, and so does the password part of any `scheme://user:pass@`
 * URL (a driver's error message may quote a connection string the CLI never saw).
 */
const MASK = '***';
/** A URL's userinfo password: `scheme://user:` kept, up to the `@`. */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi;

export class Secrets {
  readonly #values = new Set<string>();

  /** Registers a secret value (ignored when undefined or empty). */
  add(value: string | undefined): void {
    if (value === undefined || value.length === 0) return;
    for (const form of [value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1), value.trim()]) {
      if (form.length > 0) this.#values.add(form);
    }
  }

  /** Registers the password of a URL (`postgres://user:pass@host/db`), if it has one. */
  addUrl(url: string | undefined): void {
    if (url === undefined) return;
    try {
      const u = new URL(url);
      if (u.password) {
        this.add(u.password);
        this.add(decodeURIComponent(u.password));
      }
    } catch {
      // Not a URL: the masking pattern still covers a userinfo password in it.
    }
  }

  /** `text` with every secret masked. */
  redact(text: string): string {
    let out = text.replace(URL_PASSWORD, `$1${MASK}@`);
    // Longest first, so a secret containing another is masked whole.
    for (const s of [...this.#values].sort((a, b) => b.length - a.length)) out = out.split(s).join(MASK);
    return out;
  }

  /** A URL for messages: its password masked. */
  static safeUrl(url: string): string {
    return url.replace(URL_PASSWORD, `$1${MASK}@`);
  }
}
