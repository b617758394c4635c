// Every job kind the worker runs. Handlers live with their business logic in lib/; later issues add
// their jobs here (mirror fetch, validation, download-counter flush, garbage collection).
import type { JobDefinition } from "./define-job.ts";
import { mirrorFetchJob } from "../models/mirror-fetch.ts";
import { validateVersionJob } from "../models/validation-job.ts";
import { driftCheckJob, driftSweepJob } from "../models/drift-checks.ts";
import { retentionRunJob } from "../models/retention.ts";
import { webhookDeliveryJob, webhookSweepJob } from "../models/webhooks.ts";

export function allJobs(): JobDefinition[] {
  return [
    mirrorFetchJob,
    validateVersionJob,
    driftSweepJob,
    driftCheckJob,
    retentionRunJob,
    webhookDeliveryJob,
    webhookSweepJob,
  ];
}
