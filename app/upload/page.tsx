import { canAdminister, RULES } from "@/lib/auth/permissions.ts";
import { guardPage } from "@/lib/http/page-context.ts";
import { getEnv } from "@/lib/env.ts";
import { formatBytes } from "@/lib/models/signatures.ts";
import { Forbidden } from "../ui/common.tsx";
import { UploadForm } from "./upload-form.tsx";

export const dynamic = "force-dynamic";

// /upload: publish a fine-tuned model (a SavedModel / TF1 Hub / TF.js .tar.gz, or a .tflite) under
// one of your namespaces. It is validated like a mirrored version and waits for an admin.
export default async function UploadPage() {
  const ctx = await guardPage("/upload", RULES.publish);
  if (ctx.denied !== null) return <Forbidden message={ctx.denied} />;
  const p = ctx.principal;
  const namespaces = canAdminister(p) ? [] : p.namespaces;
  const suggestion = namespaces[0]?.replace(/\/?\*+$/, "/") ?? (canAdminister(p) ? "internal/" : "");
  return (
    <>
      <h1>Upload a model</h1>
      <p className="lede">
        Export a SavedModel (or a TF.js model), pack it with <code>tar -czf model.tar.gz -C export_dir .</code>, and
        upload it here or with <code>hubkeep push &lt;handle&gt; &lt;version&gt; model.tar.gz</code>. It is validated in
        the sandbox and then waits for an admin&apos;s approval.
      </p>
      {!canAdminister(p) && namespaces.length === 0 ? (
        <Forbidden message="You have no namespace to upload into yet: ask an admin to assign you one (for example internal/your-team/*)." />
      ) : (
        <UploadForm
          suggestion={suggestion}
          namespaces={canAdminister(p) ? ["anywhere (admin)"] : namespaces}
          maxBytes={formatBytes(getEnv().maxUploadBytes)}
        />
      )}
    </>
  );
}
