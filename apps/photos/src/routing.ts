// The app's state as the regions replicate it, read through the edge every
// second: `active`, `fenced` (read-only everywhere) or `failover` (the
// secondary takes writes). The edge's `x-edge-region` header says which
// region answered.
import { useState } from "react";
import { usePoll } from "./poll";

export type Mode = "active" | "fenced" | "failover";

export interface Routing {
  state: Mode;
  /** The region taking writes, or null while fenced. */
  writeRegion: string | null;
  primaryRegion: string;
  secondaryRegion: string;
  /** The region that answered this read (the edge's `x-edge-region`). */
  servedBy: string;
  /** When this was read (ms since the epoch). */
  readAt: number;
}

export const POLL_MS = 1000;

export async function readRouting(appId: string): Promise<Routing> {
  const response = await fetch(`/_tandem/apps/${encodeURIComponent(appId)}/state`, { cache: "no-store" });
  if (!response.ok) throw new Error(`the app state could not be read (HTTP ${response.status})`);
  const v = await response.json();
  return {
    state: v.State as Mode,
    writeRegion: v.WriteRegion ?? null,
    primaryRegion: v.PrimaryRegion,
    secondaryRegion: v.SecondaryRegion,
    servedBy: response.headers.get("x-edge-region") ?? v.ServedBy ?? "unknown",
    readAt: Date.now(),
  };
}

/** The latest routing view, and the error of the last read if it failed. */
export function useRouting(appId: string): { routing: Routing | null; error: string | null } {
  const [routing, setRouting] = useState<Routing | null>(null);
  const [error, setError] = useState<string | null>(null);
  usePoll(
    () => readRouting(appId),
    POLL_MS,
    (next) => {
      setRouting(next);
      setError(null);
    },
    setError,
    [appId],
  );
  return { routing, error };
}

/** Why uploads and comments cannot be written now, or null when they can. */
export function writeBlocked(routing: Routing | null): string | null {
  if (!routing) return "the app state is not known yet";
  if (routing.state === "fenced") return "the app is fenced: read-only while the operator moves or checks it";
  if (!routing.writeRegion) return "no region takes writes";
  return null;
}
