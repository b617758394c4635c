// What the sections of a model page read: the model with its visible versions, and the version shown.
import type { getModelPage } from "@/lib/models/models.ts";
import type { getVersionView } from "@/lib/models/versions.ts";

/** The model of the page, with the versions the caller may see (newest first). */
export type ModelPageView = NonNullable<Awaited<ReturnType<typeof getModelPage>>>;

/** The version the page shows: its files, latest validation, benchmark, source and approval. */
export type VersionView = NonNullable<Awaited<ReturnType<typeof getVersionView>>>;
