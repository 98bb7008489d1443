// `node --import ./test/support/trace/register.mjs …`: installs the tracing hooks before anything loads.
import { register } from "node:module";

register("./hooks.mjs", import.meta.url);
