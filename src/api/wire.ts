/**
 * JSON bodies of the API that the web console reads with the server's own types. Types only,
 * with no imports: the console's TypeScript project (`web/tsconfig.json`: DOM types, no Node
 * types) checks against this file as it is, so the console cannot drift from what the server
 * sends. The OpenAPI schemas (`schemas.ts`) describe the same bodies to other clients.
 */

/** A dead letter as the API returns it (`GET .../dead-letters`, `GET .../dead-letters/{id}`). */
export interface ApiDeadLetter {
  message_id: string;
  publish_time: string;
  dead_lettered_at: string;
  reason: string;
  detail: string | null;
  field_path: string | null;
  /** The payload as text when it is valid UTF-8, else null (see payload_base64). */
  payload: string | null;
  payload_base64: string;
  payload_size: number;
  attributes: Record<string, string>;
  ordering_key: string | null;
  replay_count: number;
}
