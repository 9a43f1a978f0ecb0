import { randomBytes } from 'node:crypto';
import express, { type Express, type Response } from 'express';

const esc = (v: string) => v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The provider's consent screen in a stand-in. By default the sign-in consents at once (a 302 back with
 * the code), which plain HTTP tests follow by hand; with `interactive`, it is a page with Accept and
 * Cancel buttons, as a person in a browser sees it. Cancel answers `error=access_denied`, as both
 * providers do when the person declines.
 */
export class ConsentScreen {
  interactive = false;
  private readonly pending = new Map<string, { allow: string; deny: string }>();

  constructor(private readonly providerName: string) {}

  mount(app: Express): void {
    app.post('/stand-in/consent/:id', express.urlencoded({ extended: false }), (req, res) => {
      const p = this.pending.get(String(req.params.id));
      this.pending.delete(String(req.params.id));
      if (!p) return void res.status(400).send('consent already answered');
      res.redirect(302, (req.body as Record<string, string>).decision === 'accept' ? p.allow : p.deny);
    });
  }

  /** Answers the sign-in: back to `allow` at once, or the consent page. */
  answer(res: Response, p: { allow: URL; redirectUri: string; state: string; account: string; scope: string }): void {
    if (!this.interactive) return void res.redirect(302, p.allow.toString());
    const deny = new URL(p.redirectUri);
    deny.searchParams.set('error', 'access_denied');
    deny.searchParams.set('error_description', 'The user declined to consent.');
    deny.searchParams.set('state', p.state);
    const id = randomBytes(8).toString('hex');
    this.pending.set(id, { allow: p.allow.toString(), deny: deny.toString() });
    const scopes = p.scope.split(' ').map((s) => `<li>${esc(s)}</li>`).join('');
    res
      .type('html')
      .send(
        `<!doctype html><html lang="en"><head><title>${esc(this.providerName)}: permissions requested</title></head><body><h1>Permissions requested</h1><p>Signed in as ${esc(p.account)}. The app asks for:</p><ul>${scopes}</ul><form method="post" action="/stand-in/consent/${id}"><button name="decision" value="accept">Accept</button><button name="decision" value="cancel">Cancel</button></form></body></html>`,
      );
  }
}
