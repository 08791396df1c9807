import ShoalDashboard
import Testing

@Suite struct DashboardPageTests {
    @Test func isSelfContainedAndEscapesItsTitle() {
        let page = DashboardPage.html(title: "<Shoal & co>")
        #expect(page.contains("<title>&lt;Shoal &amp; co&gt;</title>"))
        #expect(!page.contains("{{TITLE}}"))
        for external in ["<script src", "<link", "@import", "url(http", "https://", "fonts."] {
            #expect(!page.contains(external), "the page must not load \(external)")
        }
        #expect(page.contains("/data"))
    }
}
