// The app shell: sign-in until there is a user, then the header (region,
// state), the state banner, the upload form, the gallery and a photo's
// detail. The routing view is polled for the whole session, so a state
// change shows within a second, with no reload.
import { useCallback, useEffect, useMemo, useState } from "react";
import { getCurrentUser, signOut } from "aws-amplify/auth";
import type { AppConfig } from "../config";
import { makeClients } from "../clients";
import { useRouting, writeBlocked } from "../routing";
import type { Photo } from "../photos";
import { SignIn } from "./SignIn";
import { Banner } from "./Banner";
import { Upload } from "./Upload";
import { Gallery } from "./Gallery";
import { PhotoDetail } from "./PhotoDetail";

export function App({ config }: { config: AppConfig }) {
  const [user, setUser] = useState<string | null | undefined>(undefined);
  const [selected, setSelected] = useState<Photo | null>(null);
  const [uploads, setUploads] = useState(0);
  const { routing, error } = useRouting(config.appId);
  const clients = useMemo(() => makeClients(config), [config]);
  const blocked = writeBlocked(routing);

  const refreshUser = useCallback(() => {
    getCurrentUser()
      .then((u) => setUser(u.signInDetails?.loginId ?? u.username))
      .catch(() => setUser(null));
  }, []);
  useEffect(refreshUser, [refreshUser]);

  const leave = async () => {
    await signOut();
    setSelected(null);
    setUser(null);
  };

  return (
    <div className="app">
      <header className="top">
        <h1>tandem photos</h1>
        <p className="region" data-testid="region">
          Region: <strong>{routing?.servedBy ?? "…"}</strong>
          <span className={`state state-${routing?.state ?? "unknown"}`} data-testid="state">
            {routing?.state ?? "unknown"}
          </span>
        </p>
        {user && (
          <p className="who">
            {user} <button onClick={leave}>Sign out</button>
          </p>
        )}
      </header>
      <Banner routing={routing} error={error} />
      {user === undefined && <p>Loading…</p>}
      {user === null && <SignIn onSignedIn={refreshUser} />}
      {user && (
        <main>
          <Upload clients={clients} config={config} blocked={blocked} onUploaded={() => setUploads((n) => n + 1)} />
          <Gallery clients={clients} config={config} refreshKey={uploads} onOpen={setSelected} />
          {selected && (
            <PhotoDetail
              clients={clients}
              config={config}
              photo={selected}
              author={user}
              blocked={blocked}
              onClose={() => setSelected(null)}
            />
          )}
        </main>
      )}
    </div>
  );
}
