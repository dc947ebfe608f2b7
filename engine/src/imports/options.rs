//! What a caller says about a file besides its bytes, checked once: a profile that exists, a
//! column mapping whose date order and decimal mark are known, an account id. Kept with a
//! background import as JSON, so a resumed run reads the file exactly as the first did.

use budgetsmart_bankfiles::{ColumnMapping, DateOrder, DecimalMark, Options};
use budgetsmart_proto::engine::v1 as pb;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AppResult;
use crate::validation::Violations;

/// The longest file name kept.
const MAX_FILE_NAME: usize = 255;

/// Checked options, owned, so a blocking reader thread can take them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FileOptions {
    pub content_type: String,
    pub profile: Option<String>,
    pub mapping: Mapping,
    pub account_id: Option<Uuid>,
    pub file_name: String,
}

/// [`ColumnMapping`] in a shape serde can keep.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Mapping {
    pub date: Option<String>,
    pub description: Vec<String>,
    pub amount: Option<String>,
    pub debit: Option<String>,
    pub credit: Option<String>,
    pub currency: Option<String>,
    pub category: Option<String>,
    pub date_order: Option<String>,
    pub decimal: Option<String>,
}

fn given(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

impl FileOptions {
    pub fn from_proto(request: &pb::ImportTransactionsRequest) -> AppResult<FileOptions> {
        let mut violations = Violations::default();
        let profile = given(&request.profile);
        if let Some(name) = &profile
            && !budgetsmart_bankfiles::profiles().contains(&name.as_str())
        {
            violations.add(
                "profile",
                format!("is not a profile; known: {}", budgetsmart_bankfiles::profiles().join(", ")),
            );
        }
        let m = request.mapping.clone().unwrap_or_default();
        let mapping = Mapping {
            date: given(&m.date),
            description: m.description.iter().filter_map(|d| given(d)).collect(),
            amount: given(&m.amount),
            debit: given(&m.debit),
            credit: given(&m.credit),
            currency: given(&m.currency),
            category: given(&m.category),
            date_order: given(&m.date_order).map(|d| d.to_lowercase()),
            decimal: given(&m.decimal).map(|d| d.to_lowercase()),
        };
        if let Some(order) = &mapping.date_order
            && date_order(order).is_none()
        {
            violations.add("date_order", "must be \"ymd\", \"dmy\" or \"mdy\"");
        }
        if let Some(mark) = &mapping.decimal
            && decimal(mark).is_none()
        {
            violations.add("decimal", "must be \"point\" or \"comma\"");
        }
        if mapping.amount.is_some() && (mapping.debit.is_some() || mapping.credit.is_some()) {
            violations.add("amount_column", "give either amount_column or debit_column and credit_column");
        }
        if mapping.debit.is_some() != mapping.credit.is_some() {
            violations.add("credit_column", "debit_column and credit_column go together");
        }
        let account_id = request.account_id.as_deref().and_then(|id| violations.uuid("account_id", id));
        let file_name = request.file_name.trim();
        if file_name.chars().count() > MAX_FILE_NAME || file_name.chars().any(char::is_control) {
            violations.add("file_name", format!("must be at most {MAX_FILE_NAME} printable characters"));
        }
        violations.finish()?;
        Ok(FileOptions {
            content_type: request.content_type.trim().to_owned(),
            profile,
            mapping,
            account_id,
            file_name: file_name.to_owned(),
        })
    }

    /// The mapping as the reader takes it; `None` when nothing was given.
    pub fn column_mapping(&self) -> Option<ColumnMapping> {
        let m = &self.mapping;
        let mapping = ColumnMapping {
            date: m.date.clone(),
            description: m.description.clone(),
            amount: m.amount.clone(),
            debit: m.debit.clone(),
            credit: m.credit.clone(),
            currency: m.currency.clone(),
            category: m.category.clone(),
            date_order: m.date_order.as_deref().and_then(date_order),
            decimal: m.decimal.as_deref().and_then(decimal),
        };
        (!mapping.is_empty()).then_some(mapping)
    }

    /// Reads `file` with these options (see `budgetsmart_bankfiles::read`).
    pub fn read(
        &self,
        file: &[u8],
        sink: &mut dyn FnMut(budgetsmart_bankfiles::Item),
    ) -> Result<budgetsmart_bankfiles::Statement, budgetsmart_bankfiles::ReadError> {
        let mapping = self.column_mapping();
        let options = Options {
            content_type: (!self.content_type.is_empty()).then_some(self.content_type.as_str()),
            profile: self.profile.as_deref(),
            mapping: mapping.as_ref(),
        };
        budgetsmart_bankfiles::read(file, &options, sink)
    }
}

fn date_order(name: &str) -> Option<DateOrder> {
    match name {
        "ymd" => Some(DateOrder::Ymd),
        "dmy" => Some(DateOrder::Dmy),
        "mdy" => Some(DateOrder::Mdy),
        _ => None,
    }
}

fn decimal(name: &str) -> Option<DecimalMark> {
    match name {
        "point" => Some(DecimalMark::Point),
        "comma" => Some(DecimalMark::Comma),
        _ => None,
    }
}
