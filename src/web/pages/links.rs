//! The small pieces every page shows: a status badge, and links to a partition instance, a job run and a
//! want, resolved from a view's `index`. Each is its own askama template (so its fields are escaped), and
//! marked [`HtmlSafe`] so a page template includes its output as it is.

use askama::filters::HtmlSafe;
use askama::Template;

use crate::views::{PartitionUse, RelatedEntities, SourceView};
use crate::web::href;

/// A status or state, coloured by its name; `kind` and `id` let the live script find it (`data-run="JR-1"`).
#[derive(Debug, Clone, Template)]
#[template(path = "parts/badge.html")]
pub struct Badge {
    pub status: &'static str,
    /// `run`, `part` or `want`.
    pub kind: &'static str,
    pub id: String,
}

#[derive(Debug, Clone, Template)]
#[template(path = "parts/part_link.html")]
pub struct PartLink {
    pub href: String,
    pub name: String,
    /// Empty for a read that was never resolved to an instance.
    pub uuid: String,
    pub badge: Option<Badge>,
    /// Whether the instance is its ref's newest.
    pub current: bool,
}

#[derive(Debug, Clone, Template)]
#[template(path = "parts/run_link.html")]
pub struct RunLink {
    pub href: String,
    pub id: String,
    pub label: String,
    pub badge: Option<Badge>,
}

#[derive(Debug, Clone, Template)]
#[template(path = "parts/want_link.html")]
pub struct WantLink {
    pub href: String,
    pub id: String,
    pub badge: Option<Badge>,
}

impl HtmlSafe for Badge {}
impl HtmlSafe for PartLink {}
impl HtmlSafe for RunLink {}
impl HtmlSafe for WantLink {}
impl HtmlSafe for Source {}

impl PartLink {
    pub fn short(&self) -> &str {
        href::short_uuid(&self.uuid)
    }
}

/// Builds links from the `index` of one view response.
#[derive(Clone, Copy)]
pub struct Linker<'a> {
    pub index: &'a RelatedEntities,
}

impl<'a> Linker<'a> {
    pub fn new(index: &'a RelatedEntities) -> Linker<'a> {
        Linker { index }
    }

    /// An instance by UUID: its ref and state from the index (a UUID the index lacks is shown bare).
    pub fn part(&self, uuid: &str) -> PartLink {
        match self.index.partitions.get(uuid) {
            Some(p) => PartLink {
                href: href::partition(uuid),
                name: p.partition_ref.clone(),
                uuid: uuid.to_string(),
                badge: Some(badge(p.state, "part", uuid)),
                current: p.current,
            },
            None => PartLink {
                href: href::partition(uuid),
                name: uuid.to_string(),
                uuid: uuid.to_string(),
                badge: None,
                current: false,
            },
        }
    }

    /// A read or write: the instance when it was resolved, else the ref (its page shows the current instance).
    pub fn part_use(&self, used: &PartitionUse) -> PartLink {
        match &used.uuid {
            Some(uuid) => self.part(uuid),
            None => self.part_ref(&used.partition_ref),
        }
    }

    /// A ref without an instance: a link to the ref's page.
    pub fn part_ref(&self, name: &str) -> PartLink {
        PartLink {
            href: href::partition(name),
            name: name.to_string(),
            uuid: String::new(),
            badge: None,
            current: false,
        }
    }

    pub fn run(&self, id: &str) -> RunLink {
        let summary = self.index.job_runs.get(id);
        RunLink {
            href: href::job_run(id),
            id: id.to_string(),
            label: summary.map(|r| r.job_label.clone()).unwrap_or_default(),
            badge: summary.map(|r| badge(r.status, "run", id)),
        }
    }

    pub fn want(&self, id: &str) -> WantLink {
        WantLink {
            href: href::want(id),
            id: id.to_string(),
            badge: self.index.wants.get(id).map(|w| badge(w.status, "want", id)),
        }
    }
}

pub fn badge(status: &'static str, kind: &'static str, id: &str) -> Badge {
    Badge { status, kind, id: id.to_string() }
}

/// Who created a want, a taint or a cancellation.
#[derive(Debug, Clone, Template)]
#[template(path = "parts/source.html")]
pub enum Source {
    Unspecified,
    Manual(String),
    Job(RunLink),
}

impl Source {
    pub fn of(source: &SourceView, links: &Linker) -> Source {
        match source {
            SourceView::Unspecified => Source::Unspecified,
            SourceView::Manual { user } => Source::Manual(user.clone()),
            SourceView::JobTriggered { job_run_id } => Source::Job(links.run(job_run_id)),
        }
    }
}
