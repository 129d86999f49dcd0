// The deployment this app runs against, read from `/config.json`, which
// `tandem dev` (or the operator) writes next to the site. Every API is
// reached through the edge that serves the page, so the endpoint is the
// page's own origin and no CORS is involved.

export interface AppConfig {
  /** The tandem app id (routing state: `/_tandem/apps/{appId}/state`). */
  appId: string;
  /** The AWS region clients sign for; the edge signs again for the region it picks. */
  region: string;
  userPoolId: string;
  userPoolClientId: string;
  identityPoolId: string;
  /** The app's bucket, by its name in the primary region. */
  bucket: string;
  /** The comments table (hash key photo_id, range key comment_id). */
  table: string;
}

const REQUIRED: (keyof AppConfig)[] = [
  "appId",
  "region",
  "userPoolId",
  "userPoolClientId",
  "identityPoolId",
  "bucket",
  "table",
];

export const endpoint = (): string => window.location.origin;

export async function loadConfig(): Promise<AppConfig> {
  const response = await fetch("/config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`/config.json: HTTP ${response.status}`);
  const value = (await response.json()) as Partial<AppConfig>;
  const missing = REQUIRED.filter((k) => typeof value[k] !== "string" || value[k] === "");
  if (missing.length > 0) throw new Error(`/config.json lacks ${missing.join(", ")}`);
  return value as AppConfig;
}
