//! Cognito-compatible identity on every region node: user pools (admin-created
//! users, password and SRP sign-in, RS256 tokens with a JWKS endpoint) and
//! identity pools (an ID token exchanged for temporary credentials scoped to
//! an app). Users, verifiers and revocations live in the store and replicate
//! through the change log like everything else.

pub mod srp;
