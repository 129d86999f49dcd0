//! `tandem user`: the users of an app's user pool, administered through any
//! reachable region's Cognito API (users replicate to every region):
//! create one with a temporary password, list them, disable, enable,
//! delete, or give one a new temporary password.

use clap::Subcommand;
use serde_json::{Value, json};

use crate::config::Config;
use crate::control_client::{CallError, ControlClient};
use crate::deployment::ConfigArg;
use crate::output::{self, Output};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; prints the temporary password they must change at the first sign-in.
    Create {
        #[command(flatten)]
        pool: PoolArg,
        /// The user's email address (the `email` attribute, marked verified).
        #[arg(long)]
        email: String,
        /// The username [default: the email address].
        #[arg(long)]
        username: Option<String>,
        /// A group to add the user to. Repeatable.
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
    },
    /// List the users of the pool.
    List {
        #[command(flatten)]
        pool: PoolArg,
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Refuse the user's sign-ins and tokens until enabled again.
    Disable {
        #[command(flatten)]
        pool: PoolArg,
        username: String,
    },
    /// Let a disabled user sign in again.
    Enable {
        #[command(flatten)]
        pool: PoolArg,
        username: String,
    },
    /// Delete the user (their tokens stop working).
    Delete {
        #[command(flatten)]
        pool: PoolArg,
        username: String,
    },
    /// Give the user a new temporary password (printed), to be changed at the next sign-in.
    ResetPassword {
        #[command(flatten)]
        pool: PoolArg,
        username: String,
    },
}

/// Which user pool: the config's and an app of it.
#[derive(clap::Args)]
pub struct PoolArg {
    #[command(flatten)]
    config: ConfigArg,
    /// The app whose user pool this is [default: the only pool].
    #[arg(long)]
    app: Option<String>,
}

/// The regions and the pool a command works on.
struct Target {
    config: Config,
    client: ControlClient,
    pool: String,
}

pub async fn run(command: UserCommand) -> Result<(), String> {
    match command {
        UserCommand::Create {
            pool,
            email,
            username,
            groups,
        } => {
            let t = Target::resolve(&pool).await?;
            create(&t, &email, username.as_deref().unwrap_or(&email), &groups).await
        }
        UserCommand::List { pool, output } => list(&Target::resolve(&pool).await?, output).await,
        UserCommand::Disable { pool, username } => simple(&pool, "AdminDisableUser", &username, "disabled").await,
        UserCommand::Enable { pool, username } => simple(&pool, "AdminEnableUser", &username, "enabled").await,
        UserCommand::Delete { pool, username } => simple(&pool, "AdminDeleteUser", &username, "deleted").await,
        UserCommand::ResetPassword { pool, username } => {
            let t = Target::resolve(&pool).await?;
            let temporary = tandem_identity::password::temporary();
            t.call(
                "AdminSetUserPassword",
                json!({ "UserPoolId": t.pool, "Username": username, "Password": temporary, "Permanent": false }),
            )
            .await?;
            println!("{username}: new temporary password (to be changed at the next sign-in):");
            println!("{temporary}");
            Ok(())
        }
    }
}

impl Target {
    async fn resolve(arg: &PoolArg) -> Result<Self, String> {
        let config = arg.config.load().await?;
        let client = ControlClient::new(&config)?;
        let pools: Vec<(String, String)> = match config.identity.user_pools.is_empty() {
            false => config
                .identity
                .user_pools
                .iter()
                .map(|p| (p.id.clone(), p.app.clone().unwrap_or_else(|| p.name.clone())))
                .collect(),
            // Discovered from a region (--endpoint): a pool's name stands for its app.
            true => {
                let listed = call_any(&config, &client, "ListUserPools", json!({ "MaxResults": 60 })).await?;
                listed["UserPools"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| (str_of(&p["Id"]), str_of(&p["Name"])))
                    .collect()
            }
        };
        let pool = pick_pool(&pools, arg.app.as_deref())?;
        Ok(Target { config, client, pool })
    }

    async fn call(&self, op: &str, body: Value) -> Result<Value, String> {
        call_any(&self.config, &self.client, op, body).await
    }
}

/// Calls a user pool operation on the first region of the config that answers.
async fn call_any(config: &Config, client: &ControlClient, op: &str, body: Value) -> Result<Value, String> {
    let mut unreachable = Vec::new();
    for region in &config.regions {
        match client.cognito(region, op, &body).await {
            Ok(v) => return Ok(v),
            Err(CallError::Unreachable(e)) => unreachable.push(e),
            Err(CallError::Refused { code, message, .. }) => return Err(format!("{op}: {code}: {message}")),
        }
    }
    Err(format!("no region answered: {}", unreachable.join("; ")))
}

/// The pool of `app`, or the only pool when no app is named.
fn pick_pool(pools: &[(String, String)], app: Option<&str>) -> Result<String, String> {
    let names = || pools.iter().map(|(_, a)| a.as_str()).collect::<Vec<_>>().join(", ");
    match app {
        Some(app) => pools
            .iter()
            .find(|(_, a)| a == app)
            .map(|(id, _)| id.clone())
            .ok_or_else(|| format!("no user pool for app {app:?} (pools are for: {})", names())),
        None => match pools {
            [(id, _)] => Ok(id.clone()),
            [] => Err("the deployment has no user pools ([[identity.user_pools]] in tandem.toml)".into()),
            _ => Err(format!("several user pools: pass --app (one of: {})", names())),
        },
    }
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

async fn create(t: &Target, email: &str, username: &str, groups: &[String]) -> Result<(), String> {
    let temporary = tandem_identity::password::temporary();
    let created = t
        .call(
            "AdminCreateUser",
            json!({
                "UserPoolId": t.pool,
                "Username": username,
                "TemporaryPassword": temporary,
                "MessageAction": "SUPPRESS",
                "UserAttributes": [
                    { "Name": "email", "Value": email },
                    { "Name": "email_verified", "Value": "true" },
                ],
            }),
        )
        .await?;
    for group in groups {
        t.call(
            "AdminAddUserToGroup",
            json!({ "UserPoolId": t.pool, "Username": username, "GroupName": group }),
        )
        .await
        .map_err(|e| format!("{username} was created, but not added to group {group}: {e}"))?;
    }
    let status = str_of(&created["User"]["UserStatus"]);
    println!("created {username} in {} ({status})", t.pool);
    println!("temporary password (to be changed at the first sign-in):");
    println!("{temporary}");
    Ok(())
}

async fn list(t: &Target, out: Output) -> Result<(), String> {
    let mut users = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({ "UserPoolId": t.pool, "Limit": 60 });
        if let Some(tok) = &token {
            body["PaginationToken"] = json!(tok);
        }
        let page = t.call("ListUsers", body).await?;
        users.extend(page["Users"].as_array().cloned().unwrap_or_default());
        match page["PaginationToken"].as_str() {
            Some(next) => token = Some(next.to_string()),
            None => break,
        }
    }
    if out.json() {
        output::print_json(&json!({ "pool": t.pool, "users": users }));
        return Ok(());
    }
    println!("{:<32} {:<22} {:<8} {:<32} created", "username", "status", "enabled", "email");
    for u in &users {
        let email = u["Attributes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["Name"] == "email")
            .map(|a| str_of(&a["Value"]))
            .unwrap_or_default();
        let created = u["UserCreateDate"].as_f64().map(|s| (s * 1000.0) as u64);
        println!(
            "{:<32} {:<22} {:<8} {:<32} {}",
            str_of(&u["Username"]),
            str_of(&u["UserStatus"]),
            u["Enabled"].as_bool().unwrap_or_default(),
            email,
            output::timestamp(created)
        );
    }
    println!("{} users in {}", users.len(), t.pool);
    Ok(())
}

/// An operation that takes a pool and a username and answers nothing.
async fn simple(arg: &PoolArg, op: &str, username: &str, done: &str) -> Result<(), String> {
    let t = Target::resolve(arg).await?;
    t.call(op, json!({ "UserPoolId": t.pool, "Username": username })).await?;
    println!("{username}: {done}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_is_the_apps_or_the_only_one() {
        let one = vec![("us-east-1_photos".to_string(), "photos".to_string())];
        assert_eq!(pick_pool(&one, None).unwrap(), "us-east-1_photos");
        assert_eq!(pick_pool(&one, Some("photos")).unwrap(), "us-east-1_photos");
        assert!(pick_pool(&one, Some("notes")).unwrap_err().contains("pools are for: photos"));
        let two = vec![one[0].clone(), ("us-east-1_notes".to_string(), "notes".to_string())];
        assert!(pick_pool(&two, None).unwrap_err().contains("pass --app"));
        assert!(pick_pool(&[], None).unwrap_err().contains("no user pools"));
    }
}
