// Comments in the global table: partition key `photo_id` (the photo's id),
// sort key `comment_id` (creation time first, so a descending query gives
// the newest first).
import { PutItemCommand, QueryCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";

export interface Comment {
  id: string;
  author: string;
  text: string;
  createdAt: Date;
}

/** Longest comment accepted by the form. */
export const MAX_COMMENT = 1000;

export async function listComments(dynamo: DynamoDBClient, table: string, photoId: string): Promise<Comment[]> {
  const out = await dynamo.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: "photo_id = :p",
      ExpressionAttributeValues: { ":p": { S: photoId } },
      ScanIndexForward: false,
      Limit: 100,
    }),
  );
  return (out.Items ?? []).map((item) => ({
    id: item.comment_id?.S ?? "",
    author: item.author?.S ?? "someone",
    text: item.text?.S ?? "",
    createdAt: new Date(Number(item.created?.N ?? 0)),
  }));
}

export async function addComment(
  dynamo: DynamoDBClient,
  table: string,
  photoId: string,
  author: string,
  text: string,
): Promise<Comment> {
  const now = Date.now();
  const id = `${new Date(now).toISOString()}#${Math.random().toString(36).slice(2, 10)}`;
  await dynamo.send(
    new PutItemCommand({
      TableName: table,
      Item: {
        photo_id: { S: photoId },
        comment_id: { S: id },
        author: { S: author },
        text: { S: text },
        created: { N: String(now) },
      },
      ConditionExpression: "attribute_not_exists(comment_id)",
    }),
  );
  return { id, author, text, createdAt: new Date(now) };
}
