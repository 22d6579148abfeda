//! The simulated deployment: a lake of datasets in layers (raw → staging → dims → marts → reports), the
//! jobs that build them and what each job reads. Everything here is static; `docs/SIMULATE.md` draws it.

use crate::calendar::write_date;

/// Regions every regional dataset is partitioned by.
pub const REGIONS: [&str; 8] = ["us", "ca", "br", "uk", "eu", "in", "jp", "au"];

/// A dataset: its refs are `s3://lake/{path}[/region={r}][/date={YYYY-MM-DD}]`.
#[derive(Debug)]
pub struct Dataset {
    pub path: &'static str,
    pub regional: bool,
    pub daily: bool,
}

const fn ds(path: &'static str, regional: bool, daily: bool) -> Dataset {
    Dataset { path, regional, daily }
}

pub const RAW_ORDERS: u8 = 0;
pub const RAW_PAYMENTS: u8 = 1;
pub const RAW_CUSTOMERS: u8 = 2;
pub const RAW_CLICKSTREAM: u8 = 3;
pub const RAW_PRODUCTS: u8 = 4;
pub const RAW_FX_RATES: u8 = 5;
pub const RAW_COUNTRIES: u8 = 6;
pub const RAW_HOLIDAYS: u8 = 7;
pub const STG_ORDERS: u8 = 8;
pub const STG_PAYMENTS: u8 = 9;
pub const STG_CUSTOMERS: u8 = 10;
pub const STG_SESSIONS: u8 = 11;
pub const STG_PRODUCTS: u8 = 12;
pub const DIM_CALENDAR: u8 = 13;
pub const DIM_CUSTOMERS: u8 = 14;
pub const MART_ORDERS: u8 = 15;
pub const MART_ORDER_ITEMS: u8 = 16;
pub const MART_REVENUE: u8 = 17;
pub const MART_SESSIONS: u8 = 18;
pub const RPT_DAILY_REVENUE: u8 = 19;
pub const RPT_WEEKLY_KPIS: u8 = 20;
pub const RPT_CUSTOMER_LTV: u8 = 21;

pub const DATASETS: [Dataset; 22] = [
    ds("raw/orders", true, true),
    ds("raw/payments", true, true),
    ds("raw/customers", true, true),
    ds("raw/clickstream", true, true),
    ds("raw/products", true, true),
    ds("raw/fx_rates", false, true),
    ds("raw/reference/countries", false, false),
    ds("raw/reference/holidays", false, false),
    ds("staging/orders", true, true),
    ds("staging/payments", true, true),
    ds("staging/customers", true, true),
    ds("staging/sessions", true, true),
    ds("staging/products", true, true),
    ds("dims/calendar", false, false),
    ds("dims/customers", true, true),
    ds("marts/orders", true, true),
    ds("marts/order_items", true, true),
    ds("marts/revenue", true, true),
    ds("marts/sessions", true, true),
    ds("reports/daily_revenue", true, true),
    ds("reports/weekly_kpis", true, true),
    ds("reports/customer_ltv", true, true),
];

/// One input of a job: `dataset` for the days `D - (days - 1) ..= D` of the run's date `D` (one day if
/// `days` is 1; ignored for unpartitioned datasets), feeding the outputs in `impacts`.
#[derive(Debug)]
pub struct Input {
    pub dataset: u8,
    pub days: u8,
    /// Bit `i` set: feeds output `i`. `ALL` (0): every output, written as an empty `impacted` in `ReadDeps`.
    pub impacts: u8,
}

pub const ALL: u8 = 0;

const fn input(dataset: u8, days: u8, impacts: u8) -> Input {
    Input { dataset, days, impacts }
}

/// A job: one run builds every output for one region and date (the run's *unit*).
#[derive(Debug)]
pub struct Job {
    pub label: &'static str,
    pub outputs: &'static [u8],
    pub inputs: &'static [Input],
    /// Heartbeats of a successful run, inclusive range: long jobs beat more.
    pub heartbeats: (u8, u8),
    /// Chance (per mille) that a run whose inputs are all there fails.
    pub failure_per_mille: u32,
}

pub const JOBS: [Job; 13] = [
    Job {
        label: "//jobs/staging:orders",
        outputs: &[STG_ORDERS],
        inputs: &[input(RAW_ORDERS, 1, ALL), input(RAW_COUNTRIES, 1, ALL)],
        heartbeats: (1, 3),
        failure_per_mille: 25,
    },
    Job {
        label: "//jobs/staging:payments",
        outputs: &[STG_PAYMENTS],
        inputs: &[input(RAW_PAYMENTS, 1, ALL), input(RAW_FX_RATES, 1, ALL)],
        heartbeats: (1, 3),
        failure_per_mille: 25,
    },
    Job {
        label: "//jobs/staging:customers",
        outputs: &[STG_CUSTOMERS],
        inputs: &[input(RAW_CUSTOMERS, 1, ALL), input(RAW_COUNTRIES, 1, ALL)],
        heartbeats: (1, 2),
        failure_per_mille: 20,
    },
    Job {
        label: "//jobs/staging:sessions",
        outputs: &[STG_SESSIONS],
        inputs: &[input(RAW_CLICKSTREAM, 1, ALL)],
        heartbeats: (3, 8),
        failure_per_mille: 45,
    },
    Job {
        label: "//jobs/staging:products",
        outputs: &[STG_PRODUCTS],
        inputs: &[input(RAW_PRODUCTS, 1, ALL)],
        heartbeats: (1, 2),
        failure_per_mille: 15,
    },
    Job {
        label: "//jobs/dims:calendar",
        outputs: &[DIM_CALENDAR],
        inputs: &[input(RAW_HOLIDAYS, 1, ALL), input(RAW_COUNTRIES, 1, ALL)],
        heartbeats: (1, 1),
        failure_per_mille: 10,
    },
    Job {
        label: "//jobs/dims:customers",
        outputs: &[DIM_CUSTOMERS],
        inputs: &[input(STG_CUSTOMERS, 1, ALL), input(RAW_COUNTRIES, 1, ALL)],
        heartbeats: (1, 3),
        failure_per_mille: 20,
    },
    Job {
        label: "//jobs/marts:orders",
        outputs: &[MART_ORDERS, MART_ORDER_ITEMS],
        inputs: &[
            input(STG_ORDERS, 1, 0b11),
            input(STG_PRODUCTS, 1, 0b10),
            input(DIM_CUSTOMERS, 1, 0b01),
            input(DIM_CALENDAR, 1, 0b01),
        ],
        heartbeats: (2, 6),
        failure_per_mille: 35,
    },
    Job {
        label: "//jobs/marts:revenue",
        outputs: &[MART_REVENUE],
        inputs: &[input(MART_ORDERS, 1, ALL), input(STG_PAYMENTS, 1, ALL), input(DIM_CALENDAR, 1, ALL)],
        heartbeats: (2, 5),
        failure_per_mille: 35,
    },
    Job {
        label: "//jobs/marts:sessions",
        outputs: &[MART_SESSIONS],
        inputs: &[input(STG_SESSIONS, 1, ALL), input(DIM_CUSTOMERS, 1, ALL), input(DIM_CALENDAR, 1, ALL)],
        heartbeats: (3, 8),
        failure_per_mille: 40,
    },
    Job {
        label: "//jobs/reports:daily_revenue",
        outputs: &[RPT_DAILY_REVENUE],
        inputs: &[input(MART_REVENUE, 2, ALL)],
        heartbeats: (1, 2),
        failure_per_mille: 20,
    },
    Job {
        label: "//jobs/reports:weekly_kpis",
        outputs: &[RPT_WEEKLY_KPIS],
        inputs: &[input(MART_REVENUE, 7, ALL), input(MART_SESSIONS, 7, ALL)],
        heartbeats: (6, 15),
        failure_per_mille: 60,
    },
    Job {
        label: "//jobs/reports:customer_ltv",
        outputs: &[RPT_CUSTOMER_LTV],
        inputs: &[input(MART_ORDERS, 1, ALL), input(MART_ORDER_ITEMS, 1, ALL), input(DIM_CUSTOMERS, 1, ALL)],
        heartbeats: (2, 4),
        failure_per_mille: 25,
    },
];

/// The job that builds `dataset`, or `None` for a raw dataset (never built in the log: External).
pub fn producer(dataset: u8) -> Option<u8> {
    JOBS.iter().position(|job| job.outputs.contains(&dataset)).map(|j| j as u8)
}

/// One partition of a dataset. Region and day are 0 where the dataset has no such key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    pub dataset: u8,
    pub region: u8,
    pub day: i32,
}

impl Partition {
    /// Normalizes the keys the dataset does not have, so equal refs compare equal.
    pub fn new(dataset: u8, region: u8, day: i32) -> Partition {
        let d = &DATASETS[dataset as usize];
        Partition { dataset, region: if d.regional { region } else { 0 }, day: if d.daily { day } else { 0 } }
    }

    /// Appends the ref, e.g. `s3://lake/marts/orders/region=eu/date=2025-06-01`.
    pub fn write_ref(self, out: &mut String) {
        let d = &DATASETS[self.dataset as usize];
        out.push_str("s3://lake/");
        out.push_str(d.path);
        if d.regional {
            out.push_str("/region=");
            out.push_str(REGIONS[self.region as usize]);
        }
        if d.daily {
            out.push_str("/date=");
            write_date(out, i64::from(self.day));
        }
    }

    pub fn to_ref(self) -> String {
        let mut s = String::with_capacity(64);
        self.write_ref(&mut s);
        s
    }

    /// The unit that builds this partition, or `None` if it is raw.
    pub fn unit(self) -> Option<Unit> {
        producer(self.dataset).map(|job| Unit { job, region: self.region, day: self.day })
    }
}

/// What one job run builds: every output of `job` for one region and day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Unit {
    pub job: u8,
    pub region: u8,
    pub day: i32,
}

impl Unit {
    pub fn job(&self) -> &'static Job {
        &JOBS[self.job as usize]
    }

    pub fn outputs(&self) -> impl Iterator<Item = Partition> + '_ {
        self.job().outputs.iter().map(|&o| Partition::new(o, self.region, self.day))
    }

    /// Every input partition of this unit, each with the index of the job input it comes from.
    pub fn inputs(&self) -> impl Iterator<Item = (usize, Partition)> + '_ {
        self.job().inputs.iter().enumerate().flat_map(move |(i, input)| {
            let days = if DATASETS[input.dataset as usize].daily { input.days } else { 1 };
            (0..i32::from(days)).map(move |back| (i, Partition::new(input.dataset, self.region, self.day - back)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_is_consistent() {
        for (j, job) in JOBS.iter().enumerate() {
            let first = &DATASETS[job.outputs[0] as usize];
            for &o in job.outputs {
                let d = &DATASETS[o as usize];
                assert_eq!(
                    (d.regional, d.daily),
                    (first.regional, first.daily),
                    "{}: outputs differ in keys",
                    job.label
                );
                assert_eq!(producer(o), Some(j as u8), "{} is built by two jobs", d.path);
            }
            for input in job.inputs {
                assert!(job.outputs.len() < 8 && u32::from(input.impacts) < 1 << job.outputs.len(), "{}", job.label);
                if let Some(p) = producer(input.dataset) {
                    assert!(p < j as u8, "{} reads a dataset built by a later job: the DAG must be layered", job.label);
                }
            }
        }
        assert!(
            DATASETS[..8].iter().enumerate().all(|(i, _)| producer(i as u8).is_none()),
            "raw datasets are never built"
        );
    }

    #[test]
    fn refs_name_region_and_date() {
        let day = 20_089 + 151; // 2025-06-01
        assert_eq!(Partition::new(MART_ORDERS, 4, day).to_ref(), "s3://lake/marts/orders/region=eu/date=2025-06-01");
        assert_eq!(Partition::new(DIM_CALENDAR, 3, day).to_ref(), "s3://lake/dims/calendar");
        assert_eq!(Partition::new(RAW_FX_RATES, 2, day).to_ref(), "s3://lake/raw/fx_rates/date=2025-06-01");
        let unit = Partition::new(RPT_WEEKLY_KPIS, 0, day).unit().unwrap();
        assert_eq!(unit.inputs().count(), 14, "weekly KPIs read a week of revenue and sessions");
    }
}
