import { afterEach, describe, expect, it, vi } from 'vitest';
import { acquisition, pageContext } from '../src/client/context';
import { LIMITS } from '../src/protocol';

/** A lone surrogate: half of a character, which PostgreSQL's jsonb refuses. */
const LONE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('acquisition', () => {
  it('parses UTM parameters into the atomic.session names and keeps click ids', () => {
    const url =
      'https://shop.example/p?utm_source=news&utm_medium=email&utm_campaign=black%20friday&utm_term=shoes&utm_content=hero&utm_id=42&gclid=G1&fbclid=F1&msclkid=M1&other=x';
    expect(acquisition(url)).toEqual({
      utmSource: 'news',
      utmMedium: 'email',
      utmCampaign: 'black friday',
      utmTerm: 'shoes',
      utmContent: 'hero',
      utmId: '42',
      clickIds: { gclid: 'G1', fbclid: 'F1', msclkid: 'M1' },
    });
  });

  it('matches names case-insensitively, keeps the first of repeated values, ignores empty ones', () => {
    expect(acquisition('https://a.example/?UTM_Source=A&utm_source=B&utm_medium=&GCLID=x')).toEqual({
      utmSource: 'A',
      clickIds: { gclid: 'x' },
    });
  });

  it('caps hostile lengths and survives malformed URLs', () => {
    expect(acquisition(`https://a.example/?utm_source=${'x'.repeat(5000)}`).utmSource).toHaveLength(LIMITS.utm);
    // An emoji (two UTF-16 units) across the limit is left out whole, never halved.
    const emoji = acquisition(`https://a.example/?utm_campaign=${'x'.repeat(LIMITS.utm - 1)}${encodeURIComponent('😀')}&gclid=${'y'.repeat(LIMITS.clickId - 1)}${encodeURIComponent('😀')}`);
    expect(emoji.utmCampaign).toBe('x'.repeat(LIMITS.utm - 1));
    expect(emoji.clickIds!.gclid).toBe('y'.repeat(LIMITS.clickId - 1));
    expect(acquisition('not a url')).toEqual({});
  });
});

describe('pageContext', () => {
  it('collects screen, language, timezone, touch, client hints and the automation flag', () => {
    const source = {
      screen: { width: 1920, height: 1080 },
      navigator: {
        language: 'en-GB',
        maxTouchPoints: 5,
        webdriver: true,
        userAgentData: { brands: [{ brand: 'Chromium', version: '156' }], mobile: false, platform: 'Linux' },
      } as unknown as Navigator,
    };
    const ctx = JSON.parse(
      JSON.stringify(
        pageContext(source, { url: 'https://a.example/x?utm_source=s', title: 'T', referrer: 'https://ref.example/r?q=1', navigationType: 'navigate' }, Date.UTC(2026, 0, 1)),
      ),
    );
    expect(ctx).toMatchObject({
      url: 'https://a.example/x?utm_source=s',
      title: 'T',
      referrer: 'https://ref.example/r?q=1',
      navigationType: 'navigate',
      utmSource: 's',
      screenWidth: 1920,
      screenHeight: 1080,
      maxTouchPoints: 5,
      language: 'en-GB',
      userAgentData: { brands: [{ brand: 'Chromium', version: '156' }], mobile: false, platform: 'Linux' },
      automation: true,
    });
    expect(typeof ctx.timezoneIANA).toBe('string');
    expect(ctx.timezoneOffset).toBe(-new Date(Date.UTC(2026, 0, 1)).getTimezoneOffset() || 0);
  });

  it('cuts every string to its limit in the protocol, never inside a character', () => {
    const long = (max: number) => 'a'.repeat(max - 1) + '😀'.repeat(3);
    const source = {
      navigator: {
        language: long(LIMITS.language),
        userAgentData: { brands: [{ brand: long(LIMITS.brand), version: long(LIMITS.brandVersion) }], mobile: false, platform: long(LIMITS.platform) },
      } as unknown as Navigator,
    };
    const url = `https://a.example/${long(LIMITS.url)}`;
    const ctx = pageContext(source, { url, title: long(LIMITS.title), referrer: long(LIMITS.referrer), navigationType: 'navigate' }, 0);
    const strings = [ctx.url, ctx.title, ctx.referrer!, ctx.language!, ctx.userAgentData!.brands[0].brand, ctx.userAgentData!.brands[0].version, ctx.userAgentData!.platform];
    for (const s of strings) expect(s).not.toMatch(LONE);
    expect(ctx.title).toBe('a'.repeat(LIMITS.title - 1));
    expect(ctx.url.length).toBeLessThanOrEqual(LIMITS.url);
    expect(ctx.referrer!.length).toBe(LIMITS.referrer - 1);
    expect(ctx.language!.length).toBe(LIMITS.language - 1);
    expect(ctx.userAgentData!.platform.length).toBe(LIMITS.platform - 1);
    expect(ctx.userAgentData!.brands[0].brand.length).toBe(LIMITS.brand - 1);
  });

  it('sends nothing for what the browser lacks, and no automation flag for people', () => {
    const ctx = JSON.parse(JSON.stringify(pageContext({ navigator: {} as Navigator }, { url: 'https://a.example/', title: '', navigationType: 'route' }, 0)));
    expect(ctx).not.toHaveProperty('automation');
    expect(ctx).not.toHaveProperty('referrer');
    expect(ctx).not.toHaveProperty('screenWidth');
    expect(ctx).not.toHaveProperty('userAgentData');
  });

  describe('the time zone', () => {
    afterEach(() => vi.unstubAllGlobals());
    const page = { url: 'https://a.example/', title: '', navigationType: 'navigate' as const };

    it('is read from Temporal where the browser has it, and Intl.DateTimeFormat is not built', () => {
      vi.stubGlobal('Temporal', { Now: { timeZoneId: () => 'Pacific/Chatham' } });
      const intl = vi.spyOn(Intl, 'DateTimeFormat');
      expect(pageContext({ navigator: {} as Navigator }, page, 0).timezoneIANA).toBe('Pacific/Chatham');
      expect(intl).not.toHaveBeenCalled();
      intl.mockRestore();
    });

    it("is Intl's without Temporal, and missing (the offset still sent) when both fail", () => {
      vi.stubGlobal('Temporal', undefined);
      expect(pageContext({ navigator: {} as Navigator }, page, 0).timezoneIANA).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
      vi.stubGlobal('Temporal', { Now: { timeZoneId: () => { throw new RangeError('no zone'); } } });
      const ctx = pageContext({ navigator: {} as Navigator }, page, 0);
      expect(ctx.timezoneIANA).toBeUndefined();
      expect(typeof ctx.timezoneOffset).toBe('number');
    });
  });
});
