// The persistent banner: fenced (read-only) or failover (served by the
// secondary region), and a failed state read.
import type { Routing } from "../routing";

export function Banner({ routing, error }: { routing: Routing | null; error: string | null }) {
  return (
    <>
      {routing?.state === "fenced" && (
        <div className="banner banner-fenced" role="status" data-testid="banner-fenced">
          <strong>Read-only.</strong> The app is fenced: photos and comments can be viewed, uploads and new
          comments wait until it is active again.
        </div>
      )}
      {routing?.state === "failover" && (
        <div className="banner banner-failover" role="status" data-testid="banner-failover">
          <strong>Failover.</strong> Served from the secondary region {routing.writeRegion ?? routing.secondaryRegion}{" "}
          while {routing.primaryRegion} is out of service.
        </div>
      )}
      {error && (
        <div className="banner banner-error" role="alert">
          {error}; retrying.
        </div>
      )}
    </>
  );
}
