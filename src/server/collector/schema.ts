import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { EVENT_TYPES, ID_FIELDS, PROTOCOL_VERSION, type Batch, type EventType, type SentEvent } from '../../protocol';

/**
 * The wire protocol (../../protocol.ts) as TypeBox schemas: what `POST /collect`
 * accepts. Compile-time checks at the end keep the two in step. Unknown fields
 * are allowed and kept (a newer SDK may send more), never coerced: "7" is not 7.
 */

/** Epoch ms between 2000 and 2100: anything else is a broken clock or a forged body. */
const EpochMs = Type.Number({ minimum: 946_684_800_000, maximum: 4_102_444_800_000 });
const Id = Type.String({ minLength: 1, maxLength: 64 });
const Text = (maxLength: number) => Type.String({ maxLength });
const Count = Type.Integer({ minimum: 0, maximum: 2_147_483_647 });
const Ms = Type.Number({ minimum: 0, maximum: 2_147_483_647 });
const Json = Type.Record(Type.String(), Type.Unknown());

const IdentityId = Type.String({ minLength: 1, maxLength: 256 });
/** The IDs, on an event or once at the top of its batch (their presence is checked in batchProblem). */
const ids = {
  deviceId: Type.Optional(Id),
  anonymousId: Type.Optional(Id),
  identityId: Type.Optional(IdentityId),
  visitId: Type.Optional(Id),
  sessionId: Type.Optional(Id),
  tabId: Type.Optional(Id),
  pageId: Type.Optional(Id),
};
/** The IDs every event needs, on itself or from its batch (identityId only on identify). */
const REQUIRED_IDS = ID_FIELDS.filter((f) => f !== 'identityId');

const base = {
  id: Id,
  ts: EpochMs,
  seq: Count,
  ...ids,
};

const timing = {
  domInteractive: Type.Optional(Ms),
  domContentLoaded: Type.Optional(Ms),
  load: Type.Optional(Ms),
};

const PageView = Type.Object({
  ...base,
  type: Type.Literal('page_view'),
  url: Text(8192),
  title: Text(2048),
  referrer: Type.Optional(Text(8192)),
  navigationType: Type.Union([
    Type.Literal('navigate'),
    Type.Literal('reload'),
    Type.Literal('back_forward'),
    Type.Literal('prerender'),
    Type.Literal('back_forward_cache'),
    Type.Literal('route'),
  ]),
  screenWidth: Type.Optional(Type.Number()),
  screenHeight: Type.Optional(Type.Number()),
  maxTouchPoints: Type.Optional(Type.Number()),
  language: Type.Optional(Text(64)),
  timezoneIANA: Type.Optional(Text(255)),
  timezoneOffset: Type.Optional(Type.Number({ minimum: -1440, maximum: 1440 })),
  utmSource: Type.Optional(Text(512)),
  utmMedium: Type.Optional(Text(512)),
  utmCampaign: Type.Optional(Text(512)),
  utmTerm: Type.Optional(Text(512)),
  utmContent: Type.Optional(Text(512)),
  utmId: Type.Optional(Text(512)),
  clickIds: Type.Optional(Type.Record(Type.String(), Text(512))),
  userAgentData: Type.Optional(
    Type.Object({
      brands: Type.Array(Type.Object({ brand: Text(128), version: Text(64) }), { maxItems: 16 }),
      mobile: Type.Boolean(),
      platform: Text(64),
    }),
  ),
  automation: Type.Optional(Type.Literal(true)),
});

const report = { ...base, ...timing, activeTime: Ms, userActions: Count };
const PageLeave = Type.Object({ ...report, type: Type.Literal('page_leave') });
const PagePing = Type.Object({ ...report, type: Type.Literal('page_ping') });
const Track = Type.Object({ ...base, type: Type.Literal('track'), name: Type.String({ minLength: 1, maxLength: 256 }), properties: Type.Optional(Json) });
const Identify = Type.Object({ ...base, type: Type.Literal('identify'), traits: Type.Optional(Json) });

/** At most this many events in one request (the SDK sends at most 50 by default). */
export const MAX_EVENTS = 250;

/** The envelope; its events are checked one by one against the schema of their type (clearer errors than a union). */
export const BatchSchema = Type.Object({
  v: Type.Literal(PROTOCOL_VERSION),
  projectId: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 2_147_483_647 }), Type.String({ minLength: 1, maxLength: 64 })])),
  sentAt: EpochMs,
  sdk: Type.Optional(Text(64)),
  dropped: Type.Optional(Count),
  ...ids,
  events: Type.Array(Type.Object({ type: Type.String() }), { minItems: 1, maxItems: MAX_EVENTS }),
});

const eventSchemas = { page_view: PageView, page_leave: PageLeave, page_ping: PagePing, track: Track, identify: Identify };
const envelope = TypeCompiler.Compile(BatchSchema);
const checks = new Map<string, TypeCheck<TSchema>>(EVENT_TYPES.map((t) => [t, TypeCompiler.Compile(eventSchemas[t])]));

/** Why a parsed body is not a batch ("/events/3/ts: Expected number"), or undefined when it is one. */
export function batchProblem(body: unknown): string | undefined {
  // Check() is the compiled test; Errors() walks the schema again, so it runs only to explain a failure.
  const first = envelope.Check(body) ? undefined : envelope.Errors(body).First();
  if (first) return `${first.path || '/'}: ${first.message}`;
  const events = (body as { events: { type: string }[] }).events;
  for (let i = 0; i < events.length; i++) {
    const check = checks.get(events[i].type);
    if (!check) return `/events/${i}/type: not an event type of version ${PROTOCOL_VERSION} (${EVENT_TYPES.join(', ')})`;
    const error = check.Check(events[i]) ? undefined : check.Errors(events[i]).First();
    if (error) return `/events/${i}${error.path}: ${error.message}`;
    const event = events[i] as Record<string, unknown>;
    const batch = body as Record<string, unknown>;
    for (const f of event.type === 'identify' ? ID_FIELDS : REQUIRED_IDS)
      if (event[f] === undefined && batch[f] === undefined) return `/events/${i}/${f}: required, on the event or once on the batch`;
  }
  return undefined;
}

// Compile-time: what the schemas accept is a Batch of SentEvents, and every event type has a schema.
type Accepted = Static<typeof PageView> | Static<typeof PageLeave> | Static<typeof PagePing> | Static<typeof Track> | Static<typeof Identify>;
const accepted = (e: Accepted & { identityId?: string }): SentEvent => e as SentEvent;
const envelopeIsBatch = (b: Static<typeof BatchSchema> & { events: SentEvent[] }): Batch => b;
const everyType: Record<EventType, TSchema> = eventSchemas;
void accepted;
void envelopeIsBatch;
void everyType;
