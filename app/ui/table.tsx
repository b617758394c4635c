// The one table markup of the admin screens and the model page: frame, caption, header row, rows
// and what shows when there are none (server component).
import type { Key, ReactNode } from "react";

/** One column: its header cell and what each row puts in it. */
export type Column<Row> = {
  header: ReactNode;
  /** The header names the column for screen readers only (a column of buttons). */
  srOnly?: boolean;
  cell: (row: Row) => ReactNode;
  /** The cell heads its row (`<th scope="row">`) instead of being a data cell. */
  rowHeader?: boolean;
  className?: string;
};

/** A table's rows and columns, and how it is framed; `empty` replaces the table when there are no rows. */
export type DataTableProps<Row> = {
  columns: Array<Column<Row>>;
  rows: readonly Row[];
  rowKey: (row: Row) => Key;
  rowClassName?: (row: Row) => string | undefined;
  className?: string;
  caption?: ReactNode;
  /** The caption is for screen readers only. */
  hideCaption?: boolean;
  /** `card`: a scrolling card (admin lists); `scroll`: scrolling, unframed; `none`: the bare table. */
  frame?: "card" | "scroll" | "none";
  /** Shown instead of the table when there are no rows; without it, an empty table renders. */
  empty?: ReactNode;
};

export function DataTable<Row>({
  columns,
  rows,
  rowKey,
  rowClassName,
  className,
  caption,
  hideCaption,
  frame = "card",
  empty,
}: DataTableProps<Row>) {
  if (empty !== undefined && rows.length === 0) return <>{empty}</>;
  const table = (
    <table className={className}>
      {caption !== undefined ? <caption className={hideCaption ? "sr-only" : undefined}>{caption}</caption> : null}
      <thead>
        <tr>
          {columns.map((c, i) => (
            <th key={i} scope="col">
              {c.srOnly ? <span className="sr-only">{c.header}</span> : c.header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={rowKey(row)} className={rowClassName?.(row)}>
            {columns.map((c, i) =>
              c.rowHeader ? (
                <th key={i} scope="row" className={c.className}>
                  {c.cell(row)}
                </th>
              ) : (
                <td key={i} className={c.className}>
                  {c.cell(row)}
                </td>
              ),
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
  if (frame === "none") return table;
  return <div className={frame === "card" ? "card table-wrap" : "table-wrap"}>{table}</div>;
}
