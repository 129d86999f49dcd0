// Amplify Auth configured against tandem's Cognito-compatible endpoints
// (user pool and identity pool), both reached through the edge.
import { Amplify } from "aws-amplify";
import { fetchAuthSession } from "aws-amplify/auth";
import { endpoint, type AppConfig } from "./config";

export function configureAuth(config: AppConfig): void {
  Amplify.configure({
    Auth: {
      Cognito: {
        userPoolId: config.userPoolId,
        userPoolClientId: config.userPoolClientId,
        identityPoolId: config.identityPoolId,
        userPoolEndpoint: endpoint(),
        identityPoolEndpoint: endpoint(),
        allowGuestAccess: false,
      },
    },
  });
}

/** The signed-in user's temporary AWS credentials (from the identity pool), refreshed by Amplify. */
export async function credentials() {
  const session = await fetchAuthSession();
  if (!session.credentials) throw new Error("not signed in");
  return session.credentials;
}

/** The signed-in user's identity id (`REGION:UUID`): their own upload prefix. */
export async function identityId(): Promise<string> {
  const session = await fetchAuthSession();
  if (!session.identityId) throw new Error("not signed in");
  return session.identityId;
}
