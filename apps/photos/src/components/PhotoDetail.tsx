// One photo at full size with its comments (newest first, read again every
// few seconds) and a form to add one. The draft is this component's state,
// so a state change of the app (a banner, a new region) never loses it.
import { useEffect, useState, type FormEvent } from "react";
import type { Clients } from "../clients";
import type { AppConfig } from "../config";
import { addComment, listComments, MAX_COMMENT, type Comment } from "../comments";
import { objectUrl, originalKey, type Photo } from "../photos";
import { usePoll } from "../poll";

const REFRESH_MS = 3000;

interface Props {
  clients: Clients;
  config: AppConfig;
  photo: Photo;
  author: string;
  blocked: string | null;
  onClose: () => void;
}

export function PhotoDetail({ clients, config, photo, author, blocked, onClose }: Props) {
  const [url, setUrl] = useState<string | null>(null);
  const [comments, setComments] = useState<Comment[]>([]);
  const [draft, setDraft] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);

  useEffect(() => {
    let made: string | null = null;
    objectUrl(clients.s3, config.bucket, originalKey(photo))
      .then((u) => setUrl((made = u)))
      .catch((e) => setError(`the photo could not be read: ${e instanceof Error ? e.message : e}`));
    return () => {
      if (made) URL.revokeObjectURL(made);
    };
  }, [clients, config.bucket, photo]);

  usePoll(
    () => listComments(clients.dynamo, config.table, photo.id),
    REFRESH_MS,
    setComments,
    (message) => setError(`the comments could not be read: ${message}`),
    [clients, config.table, photo.id],
  );

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const text = draft.trim();
    if (!text) return;
    setSending(true);
    setError(null);
    try {
      const added = await addComment(clients.dynamo, config.table, photo.id, author, text);
      setComments((c) => [added, ...c.filter((x) => x.id !== added.id)]);
      setDraft("");
    } catch (err) {
      setError(`the comment was not saved (your text is kept): ${err instanceof Error ? err.message : err}`);
    } finally {
      setSending(false);
    }
  };

  return (
    <section className="card detail" aria-label="Photo detail">
      <button className="close" onClick={onClose} aria-label="Close the photo">
        ×
      </button>
      {url ? (
        <img className="full" src={url} alt={`Photo uploaded ${photo.uploadedAt.toLocaleString()}`} />
      ) : (
        <p>Loading the photo…</p>
      )}
      <h3>Comments</h3>
      <form onSubmit={submit} aria-label="Add a comment">
        <label>
          Your comment
          <textarea name="comment" value={draft} maxLength={MAX_COMMENT} onChange={(e) => setDraft(e.target.value)} rows={2} />
        </label>
        <button type="submit" disabled={blocked !== null || sending || draft.trim() === ""}>
          Add comment
        </button>
        {blocked && <p className="why">Comments are off: {blocked}.</p>}
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <ol className="comments" data-testid="comments">
        {comments.map((c) => (
          <li key={c.id}>
            <p>{c.text}</p>
            <small>
              {c.author}, {c.createdAt.toLocaleString()}
            </small>
          </li>
        ))}
      </ol>
    </section>
  );
}
