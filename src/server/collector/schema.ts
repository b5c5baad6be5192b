import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ID_FIELDS, LIMITS, PROTOCOL_VERSION, type Batch, type EventType, type IdField, type SentEvent } from '../../protocol';

/**
 * The wire protocol (../../protocol.ts) as TypeBox schemas: what `POST /collect`
 * accepts (docs/collector.md, "What a batch must hold").
 *
 * Only what the contract requires is required: an event's id, type, ts, seq and
 * IDs (on the event or once on its batch). Every other field is optional, and a
 * field that is present must have its type (never coerced: "7" is not 7). Strings
 * have no maximum here: the collector stores a longer one cut to its limit in
 * LIMITS (intake.ts), it never refuses a batch for one. IDs and the type are the
 * exception: longer than their limit they are refused, since cutting two of them
 * could make them equal. Numbers are any finite JSON number: the session row
 * clamps them or sets them NULL per column (docs/sessionizer.md). Unknown fields
 * are allowed and kept (a newer SDK may send more), and so are unknown event types.
 */

/** Epoch ms between 2000 and 2100: anything else is a broken clock or a forged body. */
const EpochMs = Type.Number({ minimum: 946_684_800_000, maximum: 4_102_444_800_000 });
const Id = Type.String({ minLength: 1, maxLength: LIMITS.id });
const Text = Type.Optional(Type.String());
const Num = Type.Optional(Type.Number());
const Json = Type.Optional(Type.Record(Type.String(), Type.Unknown()));

const IdentityId = Type.String({ minLength: 1, maxLength: LIMITS.identityId });
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
/** The IDs every event needs, on itself or from its batch. identityId is there once known: never required. */
const REQUIRED_IDS = ID_FIELDS.filter((f) => f !== 'identityId');
/** A cookieless batch (docs/collector.md, "Cookieless mode") carries only these: tabId and pageId live in the page's memory... */
const COOKIELESS_IDS: readonly IdField[] = ['tabId', 'pageId'];
/** ...and none of these, which the collector derives (or, for an identity, never holds without storage on the device). */
const DERIVED_IDS: readonly IdField[] = ['deviceId', 'anonymousId', 'identityId', 'visitId', 'sessionId'];

/** What every event has; an event of a type this version does not know is checked against this alone. */
const base = {
  id: Id,
  type: Type.String({ minLength: 1, maxLength: LIMITS.type }),
  ts: EpochMs,
  /** Per-tab counter: any non-negative integer (it only orders events of one millisecond). */
  seq: Type.Integer({ minimum: 0 }),
  ...ids,
};
const Base = Type.Object(base);

const PageView = Type.Object({
  ...base,
  url: Text,
  title: Text,
  referrer: Text,
  /** Any string: the six of protocol.ts mean what it says; any other (or none) is read as a document load. */
  navigationType: Text,
  screenWidth: Num,
  screenHeight: Num,
  maxTouchPoints: Num,
  language: Text,
  timezoneIANA: Text,
  timezoneOffset: Num,
  utmSource: Text,
  utmMedium: Text,
  utmCampaign: Text,
  utmTerm: Text,
  utmContent: Text,
  utmId: Text,
  clickIds: Type.Optional(Type.Record(Type.String(), Type.String())),
  userAgentData: Type.Optional(
    Type.Object({
      brands: Type.Optional(Type.Array(Type.Object({ brand: Text, version: Text }))),
      mobile: Type.Optional(Type.Boolean()),
      platform: Text,
    }),
  ),
  automation: Type.Optional(Type.Boolean()),
});

const report = { ...base, activeTime: Num, userActions: Num, domInteractive: Num, domContentLoaded: Num, load: Num };
const PageLeave = Type.Object(report);
const PagePing = Type.Object(report);
const Track = Type.Object({ ...base, name: Text, properties: Json });
const Identify = Type.Object({ ...base, traits: Json });

/** At most this many events in one request (the SDK sends at most 50 by default). */
export const MAX_EVENTS = 250;

/** The envelope; its events are checked one by one against the schema of their type (clearer errors than a union). */
export const BatchSchema = Type.Object({
  v: Type.Literal(PROTOCOL_VERSION),
  projectId: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 2_147_483_647 }), Type.String({ minLength: 1, maxLength: 64 })])),
  sentAt: EpochMs,
  sdk: Text,
  /** Events the client dropped: counted per project and day (dropped.ts); any number, a negative one counts nothing. */
  dropped: Num,
  /** true: a cookieless tracker's batch, whose device the collector derives (false is the same as absent). */
  cookieless: Type.Optional(Type.Boolean()),
  ...ids,
  events: Type.Array(Type.Object({ type: Type.Unknown() }), { maxItems: MAX_EVENTS }),
});

const eventSchemas = { page_view: PageView, page_leave: PageLeave, page_ping: PagePing, track: Track, identify: Identify };
const envelope = TypeCompiler.Compile(BatchSchema);
const checks = new Map<string, TypeCheck<TSchema>>(Object.entries(eventSchemas).map(([t, s]) => [t, TypeCompiler.Compile(s)]));
const baseCheck = TypeCompiler.Compile(Base);

/** Why a parsed body is not a batch ("/events/3/ts: Expected number"), or undefined when it is one. */
export function batchProblem(body: unknown): string | undefined {
  // Check() is the compiled test; Errors() walks the schema again, so it runs only to explain a failure.
  const first = envelope.Check(body) ? undefined : envelope.Errors(body).First();
  if (first) return `${first.path || '/'}: ${first.message}`;
  const batch = body as Record<string, unknown> & { events: Record<string, unknown>[] };
  const events = batch.events;
  const cookieless = batch.cookieless === true;
  const required = cookieless ? COOKIELESS_IDS : REQUIRED_IDS;
  if (cookieless) for (const f of DERIVED_IDS) if (batch[f] !== undefined) return `/${f}: a cookieless batch carries no ${f} (the collector derives the device)`;
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    const check = (typeof event.type === 'string' && Object.hasOwn(eventSchemas, event.type) && checks.get(event.type)) || baseCheck;
    const error = check.Check(event) ? undefined : check.Errors(event).First();
    if (error) return `/events/${i}${error.path}: ${error.message}`;
    if (cookieless) for (const f of DERIVED_IDS) if (event[f] !== undefined) return `/events/${i}/${f}: a cookieless batch carries no ${f} (the collector derives the device)`;
    for (const f of required) if (event[f] === undefined && batch[f] === undefined) return `/events/${i}/${f}: required, on the event or once on the batch`;
  }
  return undefined;
}

// Compile-time: what the schemas accept overlaps a Batch of SentEvents, and every event type of version 1 has a schema.
type Accepted = Static<typeof PageView> | Static<typeof PageLeave> | Static<typeof PagePing> | Static<typeof Track> | Static<typeof Identify>;
const accepted = (e: Accepted): SentEvent => e as SentEvent;
const envelopeIsBatch = (b: Static<typeof BatchSchema>): Batch => b as Batch;
const everyType: Record<EventType, TSchema> = eventSchemas;
void accepted;
void envelopeIsBatch;
void everyType;
