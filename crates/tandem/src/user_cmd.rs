//! `tandem user`: the users of an app's user pool, administered through the
//! first region that answers (users replicate to every region):
//! create one with a temporary password, list them, disable, enable,
//! delete, or give one a new temporary password.

use clap::Subcommand;
use serde_json::{Value, json};

use crate::config::{Config, RegionConfig};
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

/// The region and the pool a command works on.
struct Target {
    region: RegionConfig,
    client: ControlClient,
    pool: String,
    /// The pool's shortest password (temporary passwords are made to meet it).
    min_length: usize,
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
        UserCommand::ResetPassword { pool, username } => reset(&Target::resolve(&pool).await?, &username).await,
    }
}

/// Gives `username` a new temporary password and prints it.
async fn reset(t: &Target, username: &str) -> Result<(), String> {
    let temporary = tandem_identity::password::temporary(t.min_length);
    t.call(
        "AdminSetUserPassword",
        json!({ "UserPoolId": t.pool, "Username": username, "Password": temporary, "Permanent": false }),
    )
    .await?;
    println!("{username}: new temporary password (to be changed at the next sign-in):");
    println!("{temporary}");
    Ok(())
}

/// The admin user `tandem dev` offers for an app: created (in group
/// `admins`) at the first start; while its temporary password is unused, a
/// new one at each start, printed. Once its own password is set, only says so.
pub async fn dev_admin(config: &Config, app: &str, username: &str, email: &str) -> Result<(), String> {
    let t = Target::for_config(config.clone(), Some(app)).await?;
    let found = t
        .client
        .cognito(&t.region, "AdminGetUser", &json!({ "UserPoolId": t.pool, "Username": username }))
        .await;
    match found {
        Err(CallError::Refused { code, .. }) if code.ends_with("UserNotFoundException") => {
            create(&t, email, username, &["admins".to_string()]).await
        }
        Err(e) => Err(format!("AdminGetUser: {e}")),
        Ok(user) if user["UserStatus"] == "FORCE_CHANGE_PASSWORD" => reset(&t, username).await,
        Ok(_) => {
            println!(
                "{username} signs in with the password set at the first sign-in (`tandem user reset-password {username}` for a new temporary one)"
            );
            Ok(())
        }
    }
}

impl Target {
    /// The first region that answers its health check, and the pool of the
    /// app there. Every call of the command then goes to that one region, so
    /// a write that timed out is never repeated in another.
    async fn resolve(arg: &PoolArg) -> Result<Self, String> {
        Self::for_config(arg.config.load().await?, arg.app.as_deref()).await
    }

    async fn for_config(config: Config, app: Option<&str>) -> Result<Self, String> {
        let client = ControlClient::new(&config)?;
        let region = first_answering(&config, &client).await?;
        let pools: Vec<(String, String, usize)> = match config.identity.user_pools.is_empty() {
            false => config
                .identity
                .user_pools
                .iter()
                .map(|p| {
                    (
                        p.id.clone(),
                        p.app.clone().unwrap_or_else(|| p.name.clone()),
                        p.password_policy.min_length,
                    )
                })
                .collect(),
            // Discovered from the region (--endpoint): a pool's name stands for its app.
            true => {
                let listed = call(&client, &region, "ListUserPools", json!({ "MaxResults": 60 })).await?;
                let mut pools = Vec::new();
                for p in listed["UserPools"].as_array().into_iter().flatten() {
                    let described = call(&client, &region, "DescribeUserPool", json!({ "UserPoolId": p["Id"] })).await?;
                    let min = described["UserPool"]["Policies"]["PasswordPolicy"]["MinimumLength"]
                        .as_u64()
                        .unwrap_or(8);
                    pools.push((str_of(&p["Id"]), str_of(&p["Name"]), usize::try_from(min).unwrap_or(8)));
                }
                pools
            }
        };
        let (pool, min_length) = pick_pool(&pools, app)?;
        Ok(Target {
            region,
            client,
            pool,
            min_length,
        })
    }

    async fn call(&self, op: &str, body: Value) -> Result<Value, String> {
        call(&self.client, &self.region, op, body).await
    }
}

/// The first region of the config whose `/health` answers.
async fn first_answering(config: &Config, client: &ControlClient) -> Result<RegionConfig, String> {
    let mut unreachable = Vec::new();
    for region in &config.regions {
        match client.health(region).await {
            Ok(_) | Err(CallError::Refused { .. }) => return Ok(region.clone()),
            Err(CallError::Unreachable(e)) => unreachable.push(e),
        }
    }
    Err(format!("no region answered: {}", unreachable.join("; ")))
}

/// One user pool operation on `region`.
async fn call(client: &ControlClient, region: &RegionConfig, op: &str, body: Value) -> Result<Value, String> {
    client.cognito(region, op, &body).await.map_err(|e| match e {
        CallError::Refused { code, message, .. } => format!("{op}: {code}: {message}"),
        unreachable => format!("{op}: {unreachable}"),
    })
}

/// The pool (id, shortest password) of `app`, or the only pool when no
/// app is named. `pools` are (id, app, shortest password).
fn pick_pool(pools: &[(String, String, usize)], app: Option<&str>) -> Result<(String, usize), String> {
    let names = || pools.iter().map(|(_, a, _)| a.as_str()).collect::<Vec<_>>().join(", ");
    let found = match app {
        Some(app) => pools
            .iter()
            .find(|(_, a, _)| a == app)
            .ok_or_else(|| format!("no user pool for app {app:?} (pools are for: {})", names()))?,
        None => match pools {
            [one] => one,
            [] => return Err("the deployment has no user pools ([[identity.user_pools]] in tandem.toml)".into()),
            _ => return Err(format!("several user pools: pass --app (one of: {})", names())),
        },
    };
    Ok((found.0.clone(), found.2))
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

async fn create(t: &Target, email: &str, username: &str, groups: &[String]) -> Result<(), String> {
    let temporary = tandem_identity::password::temporary(t.min_length);
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
    // Printed before the groups: a user whose group could not be set still has this password.
    let status = str_of(&created["User"]["UserStatus"]);
    println!("created {username} in {} ({status})", t.pool);
    let mut failed = Vec::new();
    for group in groups {
        let body = json!({ "UserPoolId": t.pool, "Username": username, "GroupName": group });
        if let Err(e) = t.call("AdminAddUserToGroup", body).await {
            failed.push(format!("not added to group {group}: {e}"));
        }
    }
    println!("temporary password (to be changed at the first sign-in):");
    println!("{temporary}");
    match failed.is_empty() {
        true => Ok(()),
        false => Err(format!("{username} was created, but {}", failed.join("; "))),
    }
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
        let one = vec![("us-east-1_photos".to_string(), "photos".to_string(), 8)];
        assert_eq!(pick_pool(&one, None).unwrap(), ("us-east-1_photos".to_string(), 8));
        assert_eq!(pick_pool(&one, Some("photos")).unwrap().0, "us-east-1_photos");
        assert!(pick_pool(&one, Some("notes")).unwrap_err().contains("pools are for: photos"));
        let two = vec![one[0].clone(), ("us-east-1_notes".to_string(), "notes".to_string(), 12)];
        assert!(pick_pool(&two, None).unwrap_err().contains("pass --app"));
        assert!(pick_pool(&[], None).unwrap_err().contains("no user pools"));
    }
}
