//! The server side of SRP (`tandem_identity::srp`) as a line-oriented JSON
//! filter, so that an independent client (pycognito, in
//! tests/e2e/test_identity_srp_math.py) can be checked against it. One request
//! per stdin line, one answer per stdout line:
//!
//! - `{"op":"verifier","pool_name","user_id","password"}` -> `{"salt","verifier"}`
//! - `{"op":"start","verifier":{..},"srp_a"}` -> `{"salt","srp_b","secret_b"}`
//! - `{"op":"check","pool_name","user_id","verifier","secret_b","srp_a",
//!   "secret_block" (base64),"timestamp","signature"}` -> `{"ok":true}`
//!
//! Refusals answer `{"error": kind, "message"}`. For testing only: it prints
//! the secret `b` that a real server seals into the SECRET_BLOCK.

use std::io::{self, BufRead, Write};

use serde::Deserialize;
use serde_json::{Value, json};
use tandem_identity::srp::{self, Claim, SrpError, Verifier};

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    Verifier {
        pool_name: String,
        user_id: String,
        password: String,
    },
    Start {
        verifier: Verifier,
        srp_a: String,
    },
    Check {
        pool_name: String,
        user_id: String,
        verifier: Verifier,
        secret_b: String,
        srp_a: String,
        secret_block: String,
        timestamp: String,
        signature: String,
    },
}

fn main() -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for line in io::stdin().lock().lines() {
        let answer = match serde_json::from_str::<Request>(&line?) {
            Ok(request) => answer(request),
            Err(e) => json!({"error": "BadRequest", "message": e.to_string()}),
        };
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    Ok(())
}

fn answer(request: Request) -> Value {
    match request {
        Request::Verifier {
            pool_name,
            user_id,
            password,
        } => json!(srp::make_verifier(&pool_name, &user_id, &password)),
        Request::Start { verifier, srp_a } => match srp::start(&verifier, &srp_a) {
            Ok(half) => json!({
                "salt": half.salt_hex,
                "srp_b": half.srp_b_hex,
                "secret_b": hex_simd::encode_to_string(&*half.secret_b, hex_simd::AsciiCase::Lower),
            }),
            Err(e) => refusal(&e),
        },
        Request::Check {
            pool_name,
            user_id,
            verifier,
            secret_b,
            srp_a,
            secret_block,
            timestamp,
            signature,
        } => {
            let (Ok(secret_b), Ok(secret_block)) = (
                hex_simd::decode_to_vec(secret_b.as_bytes()),
                base64_simd::STANDARD.decode_to_vec(secret_block.as_bytes()),
            ) else {
                return json!({"error": "BadRequest", "message": "secret_b or secret_block"});
            };
            let claim = Claim {
                pool_name: &pool_name,
                user_id: &user_id,
                verifier: &verifier,
                secret_b: &secret_b,
                srp_a_hex: &srp_a,
                secret_block: &secret_block,
                timestamp: &timestamp,
                signature_b64: &signature,
            };
            match srp::check_claim(&claim) {
                Ok(()) => json!({"ok": true}),
                Err(e) => refusal(&e),
            }
        }
    }
}

fn refusal(error: &SrpError) -> Value {
    let kind = match error {
        SrpError::InvalidParameter(_) => "InvalidParameter",
        SrpError::NotAuthorized => "NotAuthorized",
        SrpError::CorruptState(_) => "CorruptState",
    };
    json!({"error": kind, "message": error.to_string()})
}
