import { expect, pageViews, test } from './fixtures';
import { CHROMIUM_ARGS, executablePath } from './support/chromium.mjs';

// Real host names on loopback: the browser applies its own public suffix list.
test.use({
  launchOptions: {
    executablePath,
    args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP *.example.co.uk 127.0.0.1, MAP *.shop.test 127.0.0.1'],
  },
});

test.describe('cookieDomain', () => {
  const port = (origin: string) => new URL(origin).port;

  test('is shared with subdomains when it is a parent of the host', async ({ context, page, server }) => {
    await page.goto(`http://www.shop.test:${port(server.origin)}/cookie-domain.html?domain=shop.test`);
    await pageViews(server);
    const cookie = (await context.cookies()).find((c) => c.name === 'sb_id')!;
    expect(cookie.domain).toBe('.shop.test');
  });

  test('is refused for a public suffix: the cookies stay host-only', async ({ context, page, server }) => {
    await page.goto(`http://www.example.co.uk:${port(server.origin)}/cookie-domain.html?domain=co.uk`);
    await pageViews(server);
    const cookies = (await context.cookies()).filter((c) => c.name.startsWith('sb_'));
    expect(cookies.length).toBeGreaterThan(0);
    for (const c of cookies) expect(c.domain).toBe('www.example.co.uk');
  });

  test('is refused when it is not a parent of the host', async ({ context, page, server }) => {
    await page.goto(`http://www.shop.test:${port(server.origin)}/cookie-domain.html?domain=elsewhere.test`);
    await pageViews(server);
    for (const c of (await context.cookies()).filter((c) => c.name.startsWith('sb_'))) expect(c.domain).toBe('www.shop.test');
  });
});
