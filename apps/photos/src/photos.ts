// Photos in the app's bucket: the original under `photos/IDENTITY/ID.EXT`
// and a small JPEG under `thumbs/IDENTITY/ID.jpg`. Everyone signed in may
// read both; each user writes only under their own identity id (the role's
// policy, `${cognito-identity.amazonaws.com:sub}`).
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

export interface Photo {
  /** `IDENTITY/ID`: the photo's id, also its comments' partition key. */
  id: string;
  thumbKey: string;
  uploadedAt: Date;
}

const THUMB_PREFIX = "thumbs/";
const THUMB_EDGE = 320;
/** At most this many photos are shown. */
const MAX_LISTED = 1000;

export async function listPhotos(s3: S3Client, bucket: string): Promise<Photo[]> {
  const photos: Photo[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: THUMB_PREFIX, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) {
      if (!o.Key) continue;
      const id = o.Key.slice(THUMB_PREFIX.length).replace(/\.jpg$/, "");
      photos.push({ id, thumbKey: o.Key, uploadedAt: o.LastModified ?? new Date(0) });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token && photos.length < MAX_LISTED);
  return photos.sort((a, b) => b.uploadedAt.getTime() - a.uploadedAt.getTime());
}

/**
 * The type a blob: URL gets. Any user may upload with any Content-Type, so
 * only image types are kept: a `text/html` "photo" opened in a tab would
 * otherwise run as a page of this origin.
 */
function imageType(key: string, declared: string | undefined): string {
  if (key.startsWith(THUMB_PREFIX)) return "image/jpeg";
  return declared && /^image\/(png|jpeg|gif|webp|avif|bmp)$/.test(declared) ? declared : "application/octet-stream";
}

/** An object as a blob: URL for an <img> (the bucket is private: no plain URL works). */
export async function objectUrl(s3: S3Client, bucket: string, key: string): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!got.Body) throw new Error(`${key}: empty answer`);
  const bytes = await got.Body.transformToByteArray();
  return URL.createObjectURL(new Blob([bytes as BlobPart], { type: imageType(key, got.ContentType) }));
}

export function originalKey(photo: Photo): string {
  return `photos/${photo.id}`;
}

/** A JPEG at most THUMB_EDGE pixels on its longer side. */
async function thumbnail(file: File): Promise<Blob> {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, THUMB_EDGE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext("2d")?.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("the thumbnail could not be made"))), "image/jpeg", 0.8),
  );
}

/** Uploads a photo and its thumbnail; `progress` gets 0..1 over both. */
export async function uploadPhoto(
  s3: S3Client,
  bucket: string,
  identity: string,
  file: File,
  progress: (fraction: number) => void,
): Promise<Photo> {
  if (!file.type.startsWith("image/")) throw new Error(`${file.name} is not an image`);
  const thumb = await thumbnail(file);
  const id = `${identity}/${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const total = file.size + thumb.size;
  let done = 0;
  const put = async (key: string, body: Blob, type: string) => {
    const upload = new Upload({ client: s3, params: { Bucket: bucket, Key: key, Body: body, ContentType: type } });
    upload.on("httpUploadProgress", (p) => progress(Math.min(1, (done + (p.loaded ?? 0)) / total)));
    await upload.done();
    done += body.size;
    progress(done / total);
  };
  await put(`photos/${id}`, file, file.type);
  await put(`${THUMB_PREFIX}${id}.jpg`, thumb, "image/jpeg");
  return { id, thumbKey: `${THUMB_PREFIX}${id}.jpg`, uploadedAt: new Date() };
}
