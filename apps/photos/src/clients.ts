// The AWS SDK v3 clients of the app, pointed at the edge (the page's origin)
// and signing with the identity pool's temporary credentials. Uploads go
// over XMLHttpRequest, which reports their progress; everything else over
// fetch (the XMLHttpRequest handler reads answers as text, which would
// garble images).
import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { XhrHttpHandler } from "@aws-sdk/xhr-http-handler";
import { credentials } from "./auth";
import { endpoint, type AppConfig } from "./config";

export interface Clients {
  s3: S3Client;
  /** S3 for uploads (progress events). */
  s3Upload: S3Client;
  dynamo: DynamoDBClient;
}

export function makeClients(config: AppConfig): Clients {
  const common = { region: config.region, endpoint: endpoint(), credentials, maxAttempts: 3 };
  const s3 = {
    ...common,
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  } as const;
  return {
    s3: new S3Client(s3),
    s3Upload: new S3Client({ ...s3, requestHandler: new XhrHttpHandler({}) }),
    dynamo: new DynamoDBClient(common),
  };
}
