/* The FX2LP registers this firmware uses (CY7C68013A Technical Reference
 * Manual, chapter 15). Written for sdcc: SFRs with __sfr/__sbit, the rest
 * memory-mapped in XDATA. Only what fx2_main.c needs. */
#ifndef SPARQ_FX2REGS_H
#define SPARQ_FX2REGS_H

#define XREG(addr) (*(volatile __xdata unsigned char *)(addr))

/* General configuration */
#define CPUCS        XREG(0xE600)
#define IFCONFIG     XREG(0xE601)
#define PINFLAGSAB   XREG(0xE602)
#define PINFLAGSCD   XREG(0xE603)
#define FIFORESET    XREG(0xE604)
#define FIFOPINPOLAR XREG(0xE609)
#define REVCTL       XREG(0xE60B)

/* Endpoint configuration */
#define EP1OUTCFG    XREG(0xE610)
#define EP1INCFG     XREG(0xE611)
#define EP2CFG       XREG(0xE612)
#define EP4CFG       XREG(0xE613)
#define EP6CFG       XREG(0xE614)
#define EP8CFG       XREG(0xE615)
#define EP2FIFOCFG   XREG(0xE618)
#define EP4FIFOCFG   XREG(0xE619)
#define EP6FIFOCFG   XREG(0xE61A)
#define EP8FIFOCFG   XREG(0xE61B)
#define EP6AUTOINLENH XREG(0xE624)
#define EP6AUTOINLENL XREG(0xE625)
#define INPKTEND     XREG(0xE648)
#define OUTPKTEND    XREG(0xE649)

/* Interrupts */
#define USBIE        XREG(0xE65C)
#define USBIRQ       XREG(0xE65D)
#define INTSETUP     XREG(0xE668)

/* USB control */
#define USBCS        XREG(0xE680)
#define TOGCTL       XREG(0xE683)
#define EP0BCH       XREG(0xE68A)
#define EP0BCL       XREG(0xE68B)
#define EP0CS        XREG(0xE6A0)
#define EP1OUTCS     XREG(0xE6A1)
#define EP1INCS      XREG(0xE6A2)
#define EP2CS        XREG(0xE6A3)
#define EP6CS        XREG(0xE6A5)
#define EP2FIFOFLGS  XREG(0xE6A7)
#define EP6FIFOFLGS  XREG(0xE6A9)
#define SETUPDAT     ((volatile __xdata unsigned char *)0xE6B8)
#define EP0BUF       ((volatile __xdata unsigned char *)0xE740)

/* Bits */
#define USBIRQ_SUDAV 0x01
#define USBIRQ_URES  0x10
#define USBIRQ_HSGRANT 0x20
#define USBCS_HSM    0x80
#define USBCS_DISCON 0x08
#define USBCS_RENUM  0x02
#define EP0CS_HSNAK  0x80
#define EPCS_BUSY    0x02
#define EPCS_STALL   0x01

/* SFRs */
__sfr __at(0x80) IOA;
__sfr __at(0xB0) IOD;
__sfr __at(0x91) EXIF;
__sfr __at(0xB2) OEA;
__sfr __at(0xB5) OED;
__sfr __at(0xA8) IE;
__sfr __at(0xE8) EIE;

/* The TRM asks for a synchronisation delay after writes to the FIFO
 * configuration registers (section 15.14); at 48 MHz CPU and 30 MHz IFCLK
 * a few cycles suffice. */
#define SYNCDELAY __asm nop; nop; nop; nop; __endasm

#endif
