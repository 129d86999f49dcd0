// Vite build of the photos app: a static site (index.html + hashed assets)
// that `tandem dev` uploads to the app's site bucket, served by the edge.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 2048 },
});
