// Sign-in with an account an administrator created (`tandem user create`):
// username or email and the temporary password, then a new password at the
// first sign-in (Cognito's NEW_PASSWORD_REQUIRED challenge).
import { useState, type FormEvent } from "react";
import { confirmSignIn, signIn } from "aws-amplify/auth";

type Step = "password" | "new-password";

interface FieldProps {
  label: string;
  name: string;
  type?: "text" | "password";
  autoComplete: string;
  value: string;
  onChange: (value: string) => void;
}

/** A labelled, required input. */
function Field({ label, name, type = "text", autoComplete, value, onChange }: FieldProps) {
  return (
    <label>
      {label}
      <input name={name} type={type} autoComplete={autoComplete} value={value} onChange={(e) => onChange(e.target.value)} required />
    </label>
  );
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [step, setStep] = useState<Step>("password");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [newPassword, setNewPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const next = (signInStep: string) => {
    if (signInStep === "DONE") onSignedIn();
    else if (signInStep === "CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED") setStep("new-password");
    else setError(`this account needs a step the app does not offer (${signInStep})`);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (step === "password") {
        const out = await signIn({ username: username.trim(), password });
        next(out.nextStep.signInStep);
      } else {
        const out = await confirmSignIn({ challengeResponse: newPassword });
        next(out.nextStep.signInStep);
      }
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card sign-in" onSubmit={submit} aria-label="Sign in">
      <h2>{step === "password" ? "Sign in" : "Choose a new password"}</h2>
      {step === "password" ? (
        <>
          <Field label="Username or email" name="username" autoComplete="username" value={username} onChange={setUsername} />
          <Field label="Password" name="password" type="password" autoComplete="current-password" value={password} onChange={setPassword} />
        </>
      ) : (
        <>
          <p>This is your first sign-in: replace the temporary password.</p>
          <Field
            label="New password"
            name="new-password"
            type="password"
            autoComplete="new-password"
            value={newPassword}
            onChange={setNewPassword}
          />
        </>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {step === "password" ? "Sign in" : "Set password"}
      </button>
    </form>
  );
}
