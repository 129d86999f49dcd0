// The upload form: a file picker, a progress bar, and the reason when the
// app cannot take writes (fenced, or no write region).
import { useState, type FormEvent } from "react";
import type { Clients } from "../clients";
import type { AppConfig } from "../config";
import { identityId } from "../auth";
import { uploadPhoto } from "../photos";

interface Props {
  clients: Clients;
  config: AppConfig;
  blocked: string | null;
  onUploaded: () => void;
}

export function Upload({ clients, config, blocked, onUploaded }: Props) {
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!file) return;
    setError(null);
    setDone(null);
    setProgress(0);
    try {
      await uploadPhoto(clients.s3Upload, config.bucket, await identityId(), file, setProgress);
      setDone(`${file.name} uploaded`);
      setFile(null);
      (e.target as HTMLFormElement).reset();
      onUploaded();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setProgress(null);
    }
  };

  return (
    <form className="card upload" onSubmit={submit} aria-label="Upload a photo">
      <h2>Upload a photo</h2>
      <label>
        Photo
        <input
          type="file"
          name="photo"
          accept="image/*"
          disabled={blocked !== null || progress !== null}
          onChange={(e) => setFile(e.target.files?.[0] ?? null)}
        />
      </label>
      <button type="submit" disabled={blocked !== null || !file || progress !== null}>
        Upload
      </button>
      {blocked && (
        <p className="why" data-testid="upload-blocked">
          Uploads are off: {blocked}.
        </p>
      )}
      {progress !== null && (
        <progress max={1} value={progress} aria-label="Upload progress">
          {Math.round(progress * 100)}%
        </progress>
      )}
      {done && <p className="ok">{done}</p>}
      {error && (
        <p className="error" role="alert">
          The upload failed: {error}
        </p>
      )}
    </form>
  );
}
