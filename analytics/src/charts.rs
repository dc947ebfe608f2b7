//! Server-rendered charts in SVG and PNG with plotters: spending by category over months, and
//! the month's forecast with its bands. Text uses a font compiled into the binary, so no
//! system fontconfig is needed; the notification service embeds the PNG in emails.

use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// Chart size in pixels.
const SIZE: (u32, u32) = (800, 450);
/// Categories drawn one by one; the rest are summed into "Other".
const MAX_LINES: usize = 6;

/// DejaVu Sans, embedded (licence beside it in `assets/`).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn register_font() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok())
}

/// An image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `image/svg+xml`.
    Svg,
    /// `image/png`.
    Png,
}

impl Format {
    /// Parses `svg` or `png`.
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "svg" => Some(Format::Svg),
            "png" => Some(Format::Png),
            _ => None,
        }
    }

    /// The content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Svg => "image/svg+xml",
            Format::Png => "image/png",
        }
    }
}

/// Monthly spending of a few categories.
#[derive(Debug, Clone)]
pub struct SpendingByCategory {
    /// Currency code for the axis.
    pub currency: String,
    /// Month labels, oldest first.
    pub months: Vec<String>,
    /// Name and spending per month, one per category.
    pub series: Vec<(String, Vec<f64>)>,
}

/// The current month's cumulative spending, its projection and bands.
#[derive(Debug, Clone)]
pub struct ForecastPath {
    /// Currency code for the axis.
    pub currency: String,
    /// The month's title, e.g. `2025-06`.
    pub month: String,
    /// Cumulative booked spending per day up to the as-of day.
    pub booked: Vec<(NaiveDate, f64)>,
    /// Expected cumulative spending per remaining day, with its bands.
    pub projected: Vec<ProjectedDay>,
    /// The budget's limit, if any.
    pub limit: Option<f64>,
}

/// One remaining day of the forecast chart.
#[derive(Debug, Clone, Copy)]
pub struct ProjectedDay {
    /// The day.
    pub day: NaiveDate,
    /// Expected cumulative spending by its end.
    pub expected: f64,
    /// 80 % band of the cumulative spending.
    pub band_80: (f64, f64),
    /// 95 % band.
    pub band_95: (f64, f64),
}

/// A chart failed to draw; an internal error.
#[derive(Debug, thiserror::Error)]
#[error("chart rendering failed: {0}")]
pub struct ChartError(String);

fn fail<E: std::fmt::Debug>(error: E) -> ChartError {
    ChartError(format!("{error:?}"))
}

/// Renders with the backend that `format` names.
fn render(
    format: Format,
    draw: impl Fn(DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), ChartError>,
    draw_bitmap: impl Fn(DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), ChartError>,
) -> Result<Vec<u8>, ChartError> {
    if !register_font() {
        return Err(ChartError("the embedded font is invalid".into()));
    }
    match format {
        Format::Svg => {
            let mut svg = String::new();
            draw(SVGBackend::with_string(&mut svg, SIZE).into_drawing_area())?;
            Ok(svg.into_bytes())
        }
        Format::Png => {
            let mut pixels = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
            draw_bitmap(BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area())?;
            let mut out = Vec::new();
            let mut encoder = png::Encoder::new(&mut out, SIZE.0, SIZE.1);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            // Charts are flat colour: filtering per row and full compression take the PNG
            // from ~400 KB to a size fit for email.
            encoder.set_compression(png::Compression::Best);
            encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
            let mut writer = encoder.write_header().map_err(fail)?;
            writer.write_image_data(&pixels).map_err(fail)?;
            writer.finish().map_err(fail)?;
            Ok(out)
        }
    }
}

/// The spending-by-category chart.
pub fn spending_by_category(data: &SpendingByCategory, format: Format) -> Result<Vec<u8>, ChartError> {
    let data = fold_into_other(data);
    render(format, |root| draw_spending(root, &data), |root| draw_spending(root, &data))
}

/// The forecast chart.
pub fn forecast(data: &ForecastPath, format: Format) -> Result<Vec<u8>, ChartError> {
    render(format, |root| draw_forecast(root, data), |root| draw_forecast(root, data))
}

fn fold_into_other(data: &SpendingByCategory) -> SpendingByCategory {
    let mut series = data.series.clone();
    series.sort_by(|a, b| b.1.iter().sum::<f64>().total_cmp(&a.1.iter().sum::<f64>()));
    if series.len() > MAX_LINES {
        let rest = series.split_off(MAX_LINES - 1);
        let mut other = vec![0.0; data.months.len()];
        for (_, values) in &rest {
            for (slot, v) in other.iter_mut().zip(values) {
                *slot += v;
            }
        }
        series.push(("Other".into(), other));
    }
    SpendingByCategory { currency: data.currency.clone(), months: data.months.clone(), series }
}

fn draw_spending<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    data: &SpendingByCategory,
) -> Result<(), ChartError> {
    root.fill(&WHITE).map_err(fail)?;
    let n = data.months.len().max(1);
    let top = data.series.iter().flat_map(|(_, v)| v.iter().copied()).fold(0.0, f64::max).max(1.0) * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("Spending by category ({})", data.currency), ("sans-serif", 22))
        .margin(16)
        .margin_right(36)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..(n as f64 - 1.0).max(1.0), 0f64..top)
        .map_err(fail)?;
    let months = data.months.clone();
    chart
        .configure_mesh()
        .x_labels(n.min(12))
        .x_label_formatter(&|x| months.get(x.round().max(0.0) as usize).cloned().unwrap_or_default())
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(fail)?;
    for (i, (name, values)) in data.series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                values.iter().enumerate().map(|(x, y)| (x as f64, *y)),
                color.stroke_width(2),
            ))
            .map_err(fail)?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3)));
    }
    finish(&root, &mut chart, SeriesLabelPosition::UpperRight)
}

fn draw_forecast<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    data: &ForecastPath,
) -> Result<(), ChartError> {
    root.fill(&WHITE).map_err(fail)?;
    let day = |d: &NaiveDate| f64::from(d.day());
    let last_day = data
        .projected
        .last()
        .map(|p| day(&p.day))
        .or_else(|| data.booked.last().map(|b| day(&b.0)))
        .unwrap_or(30.0);
    let top = data
        .projected
        .iter()
        .map(|p| p.band_95.1)
        .chain(data.booked.iter().map(|b| b.1))
        .chain(data.limit)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{} spending and forecast ({})", data.month, data.currency), ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(1f64..last_day.max(2.0), 0f64..top)
        .map_err(fail)?;
    chart
        .configure_mesh()
        .x_desc("day of month")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(fail)?;
    // The bands start where booked spending ends, so they read as "from here on".
    let anchor = data.booked.last().map(|b| (day(&b.0), b.1));
    let band = |pick: fn(&ProjectedDay) -> (f64, f64)| -> Vec<(f64, f64)> {
        let upper = data.projected.iter().map(|p| (day(&p.day), pick(p).1));
        let lower = data.projected.iter().rev().map(|p| (day(&p.day), pick(p).0));
        anchor.into_iter().chain(upper).chain(lower).chain(anchor).collect()
    };
    if !data.projected.is_empty() {
        chart
            .draw_series(std::iter::once(Polygon::new(band(|p| p.band_95), BLUE.mix(0.12).filled())))
            .map_err(fail)?;
        chart
            .draw_series(std::iter::once(Polygon::new(band(|p| p.band_80), BLUE.mix(0.25).filled())))
            .map_err(fail)?
            .label("80 % and 95 % intervals")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], BLUE.mix(0.25).filled()));
        let line = anchor.into_iter().chain(data.projected.iter().map(|p| (day(&p.day), p.expected)));
        chart
            .draw_series(LineSeries::new(line, BLUE.stroke_width(2)))
            .map_err(fail)?
            .label("projected")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE.stroke_width(2)));
    }
    chart
        .draw_series(LineSeries::new(data.booked.iter().map(|b| (day(&b.0), b.1)), BLACK.stroke_width(3)))
        .map_err(fail)?
        .label("booked")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(3)));
    if let Some(limit) = data.limit {
        chart
            .draw_series(LineSeries::new(vec![(1.0, limit), (last_day, limit)], RED.stroke_width(2)))
            .map_err(fail)?
            .label("budget")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RED.stroke_width(2)));
    }
    finish(&root, &mut chart, SeriesLabelPosition::UpperLeft)
}

/// Draws the legend at `position` and writes the image out.
fn finish<'a, DB: DrawingBackend + 'a>(
    root: &DrawingArea<DB, Shift>,
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    position: SeriesLabelPosition,
) -> Result<(), ChartError> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(fail)?;
    root.present().map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SpendingByCategory {
        SpendingByCategory {
            currency: "USD".into(),
            months: (1..=6).map(|m| format!("2025-{m:02}")).collect(),
            series: (0..8).map(|i| (format!("Category <{i}>"), vec![100.0 * f64::from(i); 6])).collect(),
        }
    }

    #[test]
    fn renders_svg_and_png() {
        let svg = spending_by_category(&sample(), Format::Svg).expect("svg");
        let text = String::from_utf8(svg).expect("utf-8");
        assert!(text.starts_with("<svg") && text.contains("Other"), "{}", &text[..100]);
        // Names are escaped, never markup.
        assert!(!text.contains("<7>"));
        let png = spending_by_category(&sample(), Format::Png).expect("png");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn renders_a_forecast_band() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2025, 6, d).expect("date");
        let data = ForecastPath {
            currency: "EUR".into(),
            month: "2025-06".into(),
            booked: (1..=15).map(|d| (day(d), 20.0 * f64::from(d))).collect(),
            projected: (16..=30)
                .map(|d| {
                    let m = 20.0 * f64::from(d);
                    ProjectedDay {
                        day: day(d),
                        expected: m,
                        band_80: (m - 10.0, m + 10.0),
                        band_95: (m - 20.0, m + 20.0),
                    }
                })
                .collect(),
            limit: Some(500.0),
        };
        let png = forecast(&data, Format::Png).expect("png");
        assert!(png.len() > 1000);
        let svg = String::from_utf8(forecast(&data, Format::Svg).expect("svg")).expect("utf-8");
        assert!(svg.contains("polygon") || svg.contains("path"));
    }
}
