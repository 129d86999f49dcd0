// Entry point: read the deployment's config, configure Amplify, render.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./components/App";
import { configureAuth } from "./auth";
import { loadConfig } from "./config";
import "./styles.css";

const root = createRoot(document.getElementById("root")!);

loadConfig()
  .then((config) => {
    configureAuth(config);
    root.render(
      <StrictMode>
        <App config={config} />
      </StrictMode>,
    );
  })
  .catch((e: unknown) => {
    root.render(
      <p role="alert" className="fatal">
        The app could not start: {e instanceof Error ? e.message : String(e)}
      </p>,
    );
  });
