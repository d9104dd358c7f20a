using Loadwise.Tests.Shared;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace Loadwise.AotProxy.IntegrationTests.Admin;

/// <summary>
/// The status page in a real browser (Debian's chromium, headless, driven by chromedriver): it draws a row per backend
/// from the API, its drain button takes a backend out, and a screenshot lands in artifacts/ for a human to look at.
/// </summary>
public sealed class StatusPageBrowserTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_page_shows_every_backend_and_its_drain_button_takes_one_out()
    {
        await using TestProxy proxy = await TestProxy.StartAsync(o => o.Admin.Listen = "http://127.0.0.1:0", backendCount: 3);
        await proxy.CountAsync(30);
        proxy.Server.Admin!.Sample();

        using ChromeDriver browser = StartChromium();
        browser.Navigate().GoToUrl(proxy.Server.AdminUrl + "/admin/");
        // The page redraws its rows every 2 s: read and click through retries that ignore a row replaced meanwhile.
        var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(15));
        wait.IgnoreExceptionTypes(typeof(StaleElementReferenceException));
        wait.Until(d => d.FindElements(By.CssSelector("#rows tr")).Count == 3);

        string[] ids = Script<IReadOnlyCollection<object>>(browser, "return [...document.querySelectorAll('#rows tr')].map(r => r.dataset.backend);")
            .Cast<string>().ToArray();
        Assert.Equal(proxy.Backends.Select(b => b.Name), ids);
        Assert.All(ids, id => Assert.Contains("healthy", RowText(browser, id), StringComparison.Ordinal));
        Assert.Contains("strategy RoundRobin", browser.FindElement(By.Id("meta")).Text, StringComparison.Ordinal);
        Assert.Contains("total (3 backends)", browser.FindElement(By.Id("totals")).Text, StringComparison.Ordinal);
        Assert.Equal(3L, Script<long>(browser, "return document.querySelectorAll('#rows svg.spark polyline').length;"));

        string first = proxy.Backends[0].Name;
        Click(wait, first);
        wait.Until(_ => RowText(browser, first).Contains("maintenance", StringComparison.Ordinal));
        Assert.True(proxy.Server.Backends[0].Drained);
        Assert.Equal("", browser.FindElement(By.Id("problem")).Text);
        Assert.DoesNotContain(first, (await proxy.CountAsync(9)).Keys);

        string folder = Path.Combine(RepositoryRoot.Path, "artifacts");
        Directory.CreateDirectory(folder);
        browser.GetScreenshot().SaveAsFile(Path.Combine(folder, "status-page.png"));

        Click(wait, first);
        wait.Until(_ => RowText(browser, first).Contains("in service", StringComparison.Ordinal));
        Assert.False(proxy.Server.Backends[0].Drained);
        Ct.ThrowIfCancellationRequested();
    }

    private static T Script<T>(ChromeDriver browser, string script) => (T)browser.ExecuteScript(script)!;

    private static string RowText(ChromeDriver browser, string id) =>
        Script<string?>(browser, $"const r = document.querySelector(\"#rows tr[data-backend='{id}']\"); return r ? r.innerText : '';") ?? "";

    private static void Click(WebDriverWait wait, string id) =>
        wait.Until(d =>
        {
            d.FindElement(By.CssSelector($"#rows tr[data-backend='{id}'] button")).Click();
            return true;
        });

    private static ChromeDriver StartChromium()
    {
        const string Chromium = "/usr/bin/chromium", Driver = "/usr/bin/chromedriver";
        if (!File.Exists(Chromium) || !File.Exists(Driver))
        {
            Assert.Fail($"{Chromium} and {Driver} are needed: apt-get install chromium chromium-driver (scripts/install-tools.sh does)");
        }

        var options = new ChromeOptions { BinaryLocation = Chromium };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--window-size=1400,500");
        ChromeDriverService service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(Driver)!, Path.GetFileName(Driver));
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }
}
