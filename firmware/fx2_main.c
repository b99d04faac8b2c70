/* sparq FX2LP bridge firmware: configures the slave FIFOs in AUTO mode so
 * bulk EP2 OUT streams into the FPGA and the FPGA streams into bulk EP6 IN
 * with no CPU involvement, and serves EP0 requests (fw_requests.c).
 * Structure: init, then a poll loop; the USB interrupt only sets flags. */
#include "fx2regs.h"
#include "fw.h"

/* Port D pins wired to the FPGA (docs/board.md has the full table). Port A
 * is taken by the slave FIFO (PA2 SLOE, PA4/PA5 FIFOADR, PA6 PKTEND) and
 * port B is FD[7:0]; in 8-bit mode port D is free GPIO. */
#define PD_FPGA_RESET 0x01 /* PD0 -> FPGA user reset, active high */
#define PD_CRESET_B   0x02 /* PD1 -> iCE40 CRESET_B */
#define PD_CDONE      0x04 /* PD2 <- iCE40 CDONE (input) */
#define PD_SPI_SS     0x08 /* PD3 -> iCE40 SPI_SS_B */
#define PD_SPI_SCK    0x10 /* PD4 -> iCE40 SPI_SCK */
#define PD_SPI_MOSI   0x20 /* PD5 -> iCE40 SPI_SI */

static volatile uint8_t flag_setup;  /* SUDAV seen */
static volatile uint8_t flag_reset;  /* bus reset seen */
static volatile uint8_t flag_hs;     /* high-speed grant seen */
static uint8_t bus_resets;
static uint8_t halted_out, halted_in;

/* INT2 (USB): flags only. No autovectoring, so this is the one handler. */
void usb_isr(void) __interrupt(8)
{
    uint8_t irq = USBIRQ;
    if (irq & USBIRQ_SUDAV)
        flag_setup = 1;
    if (irq & USBIRQ_URES)
        flag_reset = 1;
    if (irq & USBIRQ_HSGRANT)
        flag_hs = 1;
    USBIRQ = irq; /* write 1 to clear */
    EXIF &= ~0x10;
}

/* --- hooks for fw_requests.c ---------------------------------------------- */
void fw_hw_fpga_reset(uint8_t hold)
{
    if (hold)
        IOD |= PD_FPGA_RESET;
    else
        IOD &= ~PD_FPGA_RESET;
}

void fw_hw_fifo_reset(void)
{
    FIFORESET = 0x80; SYNCDELAY; /* NAK all transfers while resetting */
    FIFORESET = 0x02; SYNCDELAY;
    FIFORESET = 0x06; SYNCDELAY;
    FIFORESET = 0x00; SYNCDELAY;
    /* AUTOOUT with REVCTL.NOAUTOARM: arm both EP2 buffers by hand first. */
    EP2FIFOCFG = 0x00; SYNCDELAY;
    OUTPKTEND = 0x82; SYNCDELAY;
    OUTPKTEND = 0x82; SYNCDELAY;
    EP2FIFOCFG = 0x10; SYNCDELAY; /* AUTOOUT, 8-bit */
    EP6FIFOCFG = 0x08; SYNCDELAY; /* AUTOIN, 8-bit */
    TOGCTL = 0x02; TOGCTL = 0x22; /* reset EP2 OUT data toggle */
    TOGCTL = 0x16; TOGCTL = 0x36; /* reset EP6 IN data toggle */
    halted_out = halted_in = 0;
}

uint8_t fw_hw_status_flags(void)
{
    uint8_t f = 0;
    if (IOD & PD_FPGA_RESET)
        f |= SPARQ_USB_STF_FPGA_RESET;
    if (IOD & PD_CDONE)
        f |= SPARQ_USB_STF_CDONE;
    if (USBCS & USBCS_HSM)
        f |= SPARQ_USB_STF_HIGH_SPEED;
    return f;
}

uint8_t fw_hw_bus_resets(void) { return bus_resets; }
uint8_t fw_hw_fifo_flags(uint8_t ep) { return ep == 2 ? EP2FIFOFLGS : EP6FIFOFLGS; }
uint8_t fw_hw_high_speed(void) { return (USBCS & USBCS_HSM) ? 1 : 0; }

uint8_t fw_hw_ep_halted(uint8_t ep)
{
    if (ep == SPARQ_USB_EP_OUT)
        return halted_out;
    if (ep == SPARQ_USB_EP_IN)
        return halted_in;
    return 0;
}

uint8_t fw_hw_ep_set_halt(uint8_t ep, uint8_t halt)
{
    if (ep == SPARQ_USB_EP_OUT) {
        EP2CS = halt ? EPCS_STALL : 0;
        halted_out = halt;
        if (!halt) {
            TOGCTL = 0x02; TOGCTL = 0x22;
        }
        return 1;
    }
    if (ep == SPARQ_USB_EP_IN) {
        EP6CS = halt ? EPCS_STALL : 0;
        halted_in = halt;
        if (!halt) {
            TOGCTL = 0x16; TOGCTL = 0x36;
        }
        return 1;
    }
    return ep == 0x00 || ep == 0x80;
}

static void spi_delay(void)
{
    __asm nop; nop; __endasm;
}

void fw_hw_spi_begin(void)
{
    uint16_t i;
    IOD &= ~(PD_SPI_SCK | PD_SPI_SS); /* SS low selects SPI slave mode */
    IOD &= ~PD_CRESET_B;
    for (i = 0; i < 200; i++) /* > 200 ns reset pulse */
        spi_delay();
    IOD |= PD_CRESET_B;
    for (i = 0; i < 4000; i++) /* > 1200 us for the iCE40 to clear its memory */
        spi_delay();
}

void fw_hw_spi_write(const uint8_t *data, uint8_t n)
{
    uint8_t i, b, v;
    for (i = 0; i < n; i++) {
        v = data[i];
        for (b = 0; b < 8; b++) {
            if (v & 0x80)
                IOD |= PD_SPI_MOSI;
            else
                IOD &= ~PD_SPI_MOSI;
            IOD |= PD_SPI_SCK; /* iCE40 samples on the rising edge */
            v <<= 1;
            IOD &= ~PD_SPI_SCK;
        }
    }
}

uint8_t fw_hw_spi_end(void)
{
    uint8_t i;
    IOD |= PD_SPI_SS;
    for (i = 0; i < 100; i++) { /* >= 49 dummy clocks after the image */
        IOD |= PD_SPI_SCK;
        IOD &= ~PD_SPI_SCK;
    }
    return (IOD & PD_CDONE) ? 1 : 0;
}

/* --- EP0 glue ---------------------------------------------------------------- */
static __xdata uint8_t ep0_data[FW_EP0_SIZE];

static void handle_setup(void)
{
    static __xdata struct fw_setup s;
    uint8_t i, len = 0, r;
    static __xdata uint8_t raw[8];
    for (i = 0; i < 8; i++)
        raw[i] = SETUPDAT[i];
    fw_setup_parse(&s, raw);
    if (!(s.type & 0x80) && s.length > 0) {
        if (!fw_out_data_ok(&s)) {
            EP0CS |= EPCS_STALL;
            return;
        }
        EP0BCL = 0; /* arm EP0 for the data stage */
        while (EP0CS & EPCS_BUSY)
            ;
        for (i = 0; i < (uint8_t)s.length; i++)
            ep0_data[i] = EP0BUF[i];
    }
    r = fw_handle_setup(&s, ep0_data, &len);
    if (r == FW_STALL) {
        EP0CS |= EPCS_STALL;
    } else if (r == FW_DATA) {
        for (i = 0; i < len; i++)
            EP0BUF[i] = ep0_data[i];
        EP0BCH = 0;
        EP0BCL = len;
        EP0CS |= EP0CS_HSNAK;
    } else {
        EP0CS |= EP0CS_HSNAK;
    }
}

static void init(void)
{
    CPUCS = 0x10; /* 48 MHz 8051, CLKOUT off */
    REVCTL = 0x03; SYNCDELAY; /* NOAUTOARM | SKIPCOMMIT, as the TRM asks for AUTO mode */
    /* Internal 30 MHz IFCLK driven out to the FPGA, synchronous slave FIFO. */
    IFCONFIG = 0xA3; SYNCDELAY;
    EP1OUTCFG = 0x00; SYNCDELAY;
    EP1INCFG = 0x00; SYNCDELAY;
    EP2CFG = 0xA2; SYNCDELAY; /* valid, OUT, bulk, 512, double buffered */
    EP4CFG = 0x00; SYNCDELAY;
    EP6CFG = 0xE2; SYNCDELAY; /* valid, IN, bulk, 512, double buffered */
    EP8CFG = 0x00; SYNCDELAY;
    EP6AUTOINLENH = 0x02; SYNCDELAY; /* commit IN packets at 512 bytes; the FPGA */
    EP6AUTOINLENL = 0x00; SYNCDELAY; /* strobes PKTEND for short ones */
    PINFLAGSAB = 0xE8; SYNCDELAY; /* FLAGA = EP2 empty, FLAGB = EP6 full */
    PINFLAGSCD = 0x00; SYNCDELAY;
    FIFOPINPOLAR = 0x00; SYNCDELAY; /* flags and strobes active low */
    fw_hw_fifo_reset();

    IOD = PD_FPGA_RESET | PD_CRESET_B | PD_SPI_SS; /* FPGA held in reset until the host releases it */
    OED = PD_FPGA_RESET | PD_CRESET_B | PD_SPI_SS | PD_SPI_SCK | PD_SPI_MOSI;

    USBIE = USBIRQ_SUDAV | USBIRQ_URES | USBIRQ_HSGRANT;
    USBIRQ = 0xFF;
    EXIF &= ~0x10;
    EIE |= 0x01; /* EUSB */
    IE |= 0x80;  /* EA */

    /* Renumerate: disconnect, take over EP0 from the ROM, reconnect. */
    USBCS |= USBCS_DISCON | USBCS_RENUM;
    {
        uint16_t i;
        for (i = 0; i < 60000; i++)
            spi_delay();
    }
    USBCS &= ~USBCS_DISCON;
}

void main(void)
{
    init();
    for (;;) {
        if (flag_setup) {
            flag_setup = 0;
            handle_setup();
        }
        if (flag_reset) {
            flag_reset = 0;
            bus_resets++;
            fw_configuration = 0;
        }
        if (flag_hs)
            flag_hs = 0; /* descriptors follow USBCS.HSM at request time */
    }
}
