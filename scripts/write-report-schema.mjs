// Writes docs/report.schema.json from the compiled report model (run `npm run build` first).
import { writeFileSync } from "node:fs";
import { reportJsonSchema } from "../dist/reports/model.js";

writeFileSync(new URL("../docs/report.schema.json", import.meta.url), reportJsonSchema());
