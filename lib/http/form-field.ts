// Reading form fields, for server actions and client forms alike: a field is text or nothing (a file
// input's File reads as "").

/** A form field's text as sent ("" when missing or a file). */
export function formText(form: FormData, name: string): string {
  const v = form.get(name);
  return typeof v === "string" ? v : "";
}

/** A form field as a trimmed string ("" when missing). */
export function field(form: FormData, name: string): string {
  return formText(form, name).trim();
}
