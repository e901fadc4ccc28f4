//! `woosmap-import datasets [--json]`: every dataset of the key's project with its id, name,
//! URL, last update and deletion date, so that users can find their ids without the console.
//!
//! The list endpoint's summaries carry no URL, so each dataset is also read
//! (`GET /datasets/{id}`); every call is paced at the API's 1 request per second per endpoint.

use std::io::Write;
use std::time::Duration;

use serde_json::json;

pub use super::args::DatasetsArgs;
use crate::frontend::ExitCode;
use crate::woosmap::api::{DatasetSummary, Instant};
use crate::woosmap::exit::exit_code_of_kind;
use crate::woosmap::settings::{PRIVATE_KEY_ENV, client, private_key_from_env};

/// How long the whole listing may take (a large project needs one second per dataset).
const BUDGET: Duration = Duration::from_secs(60 * 60);

/// One row of the listing.
struct Row {
    summary: DatasetSummary,
    url: Option<String>,
}

/// Lists the datasets; exit 0 when the list was read.
pub async fn datasets(args: DatasetsArgs) -> ExitCode {
    let base_url = match args.api.base_url() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::Usage;
        }
    };
    let Some(key) = private_key_from_env() else {
        eprintln!("error: {PRIVATE_KEY_ENV} is not set: a private key is needed to list datasets");
        return ExitCode::Usage;
    };
    let client = match client(&base_url, Some(key)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::Usage;
        }
    };
    let deadline = Instant::now() + BUDGET;
    let all = match client.list_all_datasets(deadline).await {
        Ok(all) => all,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code_of_kind(e.kind());
        }
    };
    let mut set = tokio::task::JoinSet::new();
    for (i, summary) in all.into_iter().enumerate() {
        let client = client.clone();
        set.spawn(async move {
            let url = match &summary.url {
                Some(url) => Some(url.clone()),
                None => match client.dataset(&summary.id, deadline).await {
                    Ok(d) => d.and_then(|d| d.url),
                    Err(e) => {
                        tracing::warn!(dataset_id = %summary.id, "could not read the URL: {e}");
                        None
                    }
                },
            };
            (i, Row { summary, url })
        });
    }
    let mut rows = set.join_all().await;
    rows.sort_by_key(|(i, _)| *i);
    let rows: Vec<Row> = rows.into_iter().map(|(_, r)| r).collect();

    let mut out = std::io::stdout().lock();
    if args.api.json {
        for r in &rows {
            let s = &r.summary;
            let _ = writeln!(
                out,
                "{}",
                json!({"id": s.id, "name": s.name, "url": r.url, "created_at": s.created_at,
                       "updated_at": s.updated_at,
                       "scheduled_for_deletion_after": s.scheduled_for_deletion_after})
            );
        }
    } else {
        let _ = write_table(&mut out, &rows);
    }
    let _ = out.flush();
    ExitCode::Success
}

fn write_table(out: &mut impl Write, rows: &[Row]) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "No datasets.");
    }
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            let s = &r.summary;
            [
                s.id.to_string(),
                s.name.clone(),
                r.url.clone().unwrap_or_else(|| "-".into()),
                s.updated_at.clone().unwrap_or_else(|| s.created_at.clone()),
                s.scheduled_for_deletion_after
                    .as_ref()
                    .map(|d| format!("deleted after {d}"))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let header = ["ID", "NAME", "URL", "UPDATED", "DELETION"];
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cols: [&str; 5]| -> std::io::Result<()> {
        let mut text = String::new();
        for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
            if i + 1 == cols.len() {
                text.push_str(c);
            } else {
                text.push_str(&format!("{c:<w$}  "));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, header)?;
    for row in &cells {
        line(out, [&row[0], &row[1], &row[2], &row[3], &row[4]])?;
    }
    Ok(())
}
