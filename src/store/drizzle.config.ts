import { defineConfig } from "drizzle-kit";

// `npm run db:generate` writes a new versioned migration after a schema change.
export default defineConfig({
  dialect: "turso",
  schema: "./src/store/schema.ts",
  out: "./src/store/migrations",
});
