// The grid of everyone's photos, newest first, as thumbnails. Listed again
// every few seconds and after each upload; thumbnails are fetched once.
import { useEffect, useRef, useState } from "react";
import type { Clients } from "../clients";
import type { AppConfig } from "../config";
import { listPhotos, objectUrl, type Photo } from "../photos";
import { usePoll } from "../poll";

const REFRESH_MS = 5000;

interface Props {
  clients: Clients;
  config: AppConfig;
  refreshKey: number;
  onOpen: (photo: Photo) => void;
}

export function Gallery({ clients, config, refreshKey, onOpen }: Props) {
  const [photos, setPhotos] = useState<Photo[] | null>(null);
  const [thumbs, setThumbs] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const fetching = useRef(new Set<string>());

  usePoll(
    () => listPhotos(clients.s3, config.bucket),
    REFRESH_MS,
    (listed) => {
      setPhotos(listed);
      setError(null);
    },
    setError,
    [clients, config.bucket, refreshKey],
  );

  useEffect(() => {
    for (const p of photos ?? []) {
      if (thumbs[p.id] || fetching.current.has(p.id)) continue;
      fetching.current.add(p.id);
      objectUrl(clients.s3, config.bucket, p.thumbKey)
        .then((url) => setThumbs((t) => ({ ...t, [p.id]: url })))
        .catch(() => undefined)
        .finally(() => fetching.current.delete(p.id));
    }
  }, [photos, thumbs, clients, config.bucket]);

  return (
    <section className="gallery" aria-label="Photos">
      <h2>Photos</h2>
      {error && (
        <p className="error" role="alert">
          The photos could not be listed: {error}
        </p>
      )}
      {photos?.length === 0 && <p>No photos yet: upload the first one.</p>}
      <ul className="grid">
        {(photos ?? []).map((p) => (
          <li key={p.id}>
            <button className="thumb" onClick={() => onOpen(p)} aria-label={`Open photo uploaded ${p.uploadedAt.toLocaleString()}`}>
              {thumbs[p.id] ? (
                <img src={thumbs[p.id]} alt={`Photo uploaded ${p.uploadedAt.toLocaleString()}`} />
              ) : (
                <span className="placeholder">…</span>
              )}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
